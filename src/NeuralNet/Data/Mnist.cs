namespace NeuralNet.Data;

/// <summary>Loads the MNIST handwritten-digit data set from its four standard IDX files, raw or gzipped.</summary>
/// <remarks>
/// <para>Images become <see cref="Dataset"/> features of shape (N, 784) scaled to [0, 1] by x / 255; use
/// <c>Reshape(1, 28, 28)</c> for convolutional networks. Labels must be 0–9.</para>
/// <para>The standard files hold 60,000 training and 10,000 test examples. <see cref="MnistData.Split"/> derives the
/// seeded train/validation/test partitions some reference systems use (for example 50,000/5,000/5,000).</para>
/// </remarks>
public static class Mnist
{
    /// <summary>The side of an image in pixels.</summary>
    public const int ImageSize = 28;

    /// <summary>The number of pixels of an image, 28 × 28.</summary>
    public const int PixelCount = ImageSize * ImageSize;

    /// <summary>The number of classes (digits 0–9).</summary>
    public const int ClassCount = 10;

    /// <summary>The base name of the training images file.</summary>
    public const string TrainImagesFile = "train-images-idx3-ubyte";

    /// <summary>The base name of the training labels file.</summary>
    public const string TrainLabelsFile = "train-labels-idx1-ubyte";

    /// <summary>The base name of the test images file.</summary>
    public const string TestImagesFile = "t10k-images-idx3-ubyte";

    /// <summary>The base name of the test labels file.</summary>
    public const string TestLabelsFile = "t10k-labels-idx1-ubyte";

    /// <summary>Loads the training and test sets from a directory holding the four standard files (each raw or with <c>.gz</c>).</summary>
    /// <param name="directory">E.g. <c>data/mnist</c>.</param>
    /// <exception cref="FileNotFoundException">A file is missing; the message lists the names tried.</exception>
    /// <exception cref="InvalidDataException">A file is malformed, a label is outside 0–9, or image and label counts differ.</exception>
    public static MnistData Load(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Mnist: the directory '{directory}' does not exist.");
        var train = LoadIdx(Find(directory, TrainImagesFile), Find(directory, TrainLabelsFile));
        var test = LoadIdx(Find(directory, TestImagesFile), Find(directory, TestLabelsFile));
        return new MnistData(train, test);
    }

    // Where a repository keeps the bundled files, relative to its root.
    private static readonly string BundledDirectoryName = Path.Combine("data", "mnist");

    /// <summary>
    /// Finds the bundled MNIST: the first <c>data/mnist</c> directory holding the four IDX files (each raw or
    /// <c>.gz</c>), looking in <paramref name="start"/> and each directory above it.
    /// </summary>
    /// <param name="start">The directory to start from; null starts from the program's directory
    /// (<see cref="AppContext.BaseDirectory"/>), then from the current directory.</param>
    /// <returns>The full path of the <c>data/mnist</c> directory found.</returns>
    /// <remarks>A <c>data/mnist</c> directory that lacks one of the four files is passed over, so a partial copy nearer
    /// the start does not hide a whole one further up.</remarks>
    /// <exception cref="DirectoryNotFoundException">No directory qualifies; the message names where the search started
    /// and the files it looked for.</exception>
    public static string FindDataDirectory(string? start = null)
    {
        string[] starts = start is not null
            ? [Path.GetFullPath(start)]
            : [Path.GetFullPath(AppContext.BaseDirectory), Directory.GetCurrentDirectory()];
        foreach (string from in starts)
        {
            for (var d = new DirectoryInfo(from); d is not null; d = d.Parent)
            {
                string candidate = Path.Combine(d.FullName, BundledDirectoryName);
                if (HasAllFiles(candidate)) return candidate;
            }
        }
        throw new DirectoryNotFoundException(
            $"Mnist: no {BundledDirectoryName} directory holding {TrainImagesFile}, {TrainLabelsFile}, {TestImagesFile} and {TestLabelsFile} " +
            $"(raw or .gz) in {string.Join(" or ", starts.Distinct().Select(s => $"'{s}'"))} or any directory above.");
    }

    private static bool HasAllFiles(string directory)
    {
        foreach (string name in (string[])[TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile])
        {
            string raw = Path.Combine(directory, name);
            if (!File.Exists(raw) && !File.Exists(raw + ".gz")) return false;
        }
        return true;
    }

    /// <summary>Loads one image file and its label file into a data set of shape (N, rows·columns).</summary>
    /// <param name="imagesPath">An IDX image file (magic 0x00000803), raw or gzipped.</param>
    /// <param name="labelsPath">An IDX label file (magic 0x00000801), raw or gzipped.</param>
    /// <param name="classCount">Labels must lie in [0, classCount).</param>
    /// <exception cref="InvalidDataException">A file is malformed, a label is out of range, or the counts differ.</exception>
    public static Dataset LoadIdx(string imagesPath, string labelsPath, int classCount = ClassCount)
    {
        var images = IdxReader.ReadImages(imagesPath);
        var labels = IdxReader.ReadLabels(labelsPath);
        if (images.Count != labels.Count)
            throw new InvalidDataException($"Mnist: '{imagesPath}' holds {images.Count} images but '{labelsPath}' holds {labels.Count} labels.");
        int header = 8;
        var ints = new int[labels.Count];
        for (int i = 0; i < ints.Length; i++)
        {
            int l = labels.Data[i];
            if (l >= classCount)
                throw new InvalidDataException($"{labelsPath}: record {i} (byte offset {header + i}) has label {l}; labels must be 0–{classCount - 1}.");
            ints[i] = l;
        }
        var dims = images.Dimensions;
        return Dataset.FromBytes(images.Data, ints, [dims[1] * dims[2]], classCount, imagesPath);
    }

    private static string Find(string directory, string baseName)
    {
        string raw = Path.Combine(directory, baseName), gz = raw + ".gz";
        if (File.Exists(raw)) return raw;
        if (File.Exists(gz)) return gz;
        foreach (string candidate in (string[])[raw, gz])
            if (Directory.Exists(candidate))
                throw new FileNotFoundException($"Mnist: '{candidate}' is a directory, not a file; expected the IDX file {baseName} (raw or .gz) there.", candidate);
        throw new FileNotFoundException($"Mnist: neither '{raw}' nor '{gz}' exists.", gz);
    }
}

/// <summary>The MNIST training and test sets, as loaded by <see cref="Mnist.Load"/>.</summary>
/// <param name="Train">The training set (60,000 examples for the standard files).</param>
/// <param name="Test">The test set (10,000 examples for the standard files).</param>
public sealed record MnistData(Dataset Train, Dataset Test)
{
    /// <summary>
    /// A seeded train/validation/test partition: training and validation are disjoint samples of the training set, and
    /// the test part a sample of the test set, so no test image is ever trained on.
    /// </summary>
    /// <param name="trainCount">Training examples, e.g. 50,000.</param>
    /// <param name="validationCount">Validation examples, e.g. 5,000, disjoint from the training ones.</param>
    /// <param name="testCount">Test examples, e.g. 5,000; all of <see cref="Test"/> keeps its order.</param>
    /// <param name="seed">The seed of the <see cref="RandomGenerator"/> that draws the samples.</param>
    /// <remarks>The same seed always gives the same partition. Within each part, examples keep their file order.</remarks>
    /// <exception cref="ArgumentException">trainCount + validationCount exceeds the training set, or testCount the test set.</exception>
    public DatasetSplit Split(int trainCount = 50_000, int validationCount = 5_000, int testCount = 5_000, ulong seed = 0)
    {
        var random = new RandomGenerator(seed);
        var parts = Train.Split(random, trainCount, validationCount);
        var test = testCount == Test.Count ? Test : Test.Split(random, testCount)[0];
        return new DatasetSplit(parts[0], parts[1], test);
    }
}

/// <summary>A training, a validation and a test set.</summary>
/// <param name="Train">Examples to train on.</param>
/// <param name="Validation">Examples for model selection and early stopping.</param>
/// <param name="Test">Held-out examples for the final figure.</param>
public sealed record DatasetSplit(Dataset Train, Dataset Validation, Dataset Test);
