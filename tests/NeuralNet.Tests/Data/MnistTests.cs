using NeuralNet.Data;
using NeuralNet.Tests.Serialization;

namespace NeuralNet.Tests.Data;

public class MnistTests
{
    private static string MakeMnistDirectory(string root, params string[] files)
    {
        string dir = Path.Combine(root, "data", "mnist");
        Directory.CreateDirectory(dir);
        foreach (string f in files) File.WriteAllBytes(Path.Combine(dir, f), []);
        return dir;
    }

    private static readonly string[] FourFiles =
        [Mnist.TrainImagesFile + ".gz", Mnist.TrainLabelsFile, Mnist.TestImagesFile, Mnist.TestLabelsFile + ".gz"];

    [Fact]
    public void FindDataDirectory_WalksUpToTheFirstDirectoryWithAllFourFiles()
    {
        using var tmp = new TempDirectory();
        string outer = MakeMnistDirectory(tmp.Path, FourFiles);
        // A nearer copy missing the test labels is passed over.
        MakeMnistDirectory(Path.Combine(tmp.Path, "a"), FourFiles[..3]);
        string start = Directory.CreateDirectory(Path.Combine(tmp.Path, "a", "b", "c")).FullName;
        Mnist.FindDataDirectory(start).Should().Be(outer);
        string inner = MakeMnistDirectory(Path.Combine(tmp.Path, "a", "b"), Mnist.TrainImagesFile, Mnist.TrainLabelsFile, Mnist.TestImagesFile, Mnist.TestLabelsFile);
        Mnist.FindDataDirectory(start).Should().Be(inner, "the nearest complete copy wins, raw files as well as .gz");
    }

    [Fact]
    public void FindDataDirectory_NamesWhereItLooked_WhenNothingQualifies()
    {
        // Nothing above the temporary directory holds data/mnist (a machine with /tmp/data/mnist or /data/mnist would fail here).
        using var tmp = new TempDirectory();
        MakeMnistDirectory(tmp.Path, FourFiles[1..]);
        FluentActions.Invoking(() => Mnist.FindDataDirectory(tmp.Path)).Should().Throw<DirectoryNotFoundException>()
            .WithMessage($"*'{tmp.Path}'*")
            .WithMessage("*train-images-idx3-ubyte*t10k-labels-idx1-ubyte*raw or .gz*");
    }

    [Fact]
    public void FindDataDirectory_ByDefault_FindsTheRepositoryCopyFromTheTestBinaries()
        => Mnist.FindDataDirectory().Should().Be(Path.Combine(MnistFixture.RepoRoot, "data", "mnist"));

    [Fact]
    public void BundledMnist_HasStandardSizesAndSaneLabels()
    {
        var m = MnistFixture.Data;
        m.Train.Count.Should().Be(60_000);
        m.Test.Count.Should().Be(10_000);
        m.Train.ExampleShapeArray().Should().Equal(784);
        m.Train.FeatureCount.Should().Be(784);
        // Published class counts of the MNIST training and test sets.
        m.Train.LabelHistogram().Should().Equal(5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949);
        m.Test.LabelHistogram().Should().Equal(980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009);
        m.Train.Labels.Take(5).Should().Equal(5, 0, 4, 1, 9);
        m.Test.Labels.Take(3).Should().Equal(7, 2, 1);
        System.Numerics.Tensors.TensorPrimitives.Min<float>(m.Train.Features.Data).Should().Be(0f);
        System.Numerics.Tensors.TensorPrimitives.Max<float>(m.Train.Features.Data).Should().Be(1f);
        // Mean grey level of the MNIST training images is 33.32/255 ≈ 0.1307 (the usual normalisation constant).
        (System.Numerics.Tensors.TensorPrimitives.Sum<float>(m.Train.Features.Data) / m.Train.Features.Length).Should().BeApproximately(0.1307f, 0.0005f);
    }

    [Fact]
    public void ImagesView_SharesStorage()
    {
        var train = MnistFixture.Data.Train;
        var images = train.Reshape(1, 28, 28);
        images.Features.ShapeArray().Should().Equal(60_000, 1, 28, 28);
        images.Features.Data.Should().BeSameAs(train.Features.Data);
        images.Features[0, 0, 14, 14].Should().Be(train.Features[0, 14 * 28 + 14]);
        FluentActions.Invoking(() => train.Reshape(1, 28, 27)).Should().Throw<ArgumentException>().WithMessage("*784 features*(1, 28, 27)*");
    }

    [Fact]
    public void Split_IsSeededDeterministicAndDisjoint()
    {
        var m = MnistFixture.Data;
        var a = m.Split(50_000, 5_000, 5_000, seed: 7);
        var b = m.Split(50_000, 5_000, 5_000, seed: 7);
        a.Train.Count.Should().Be(50_000);
        a.Validation.Count.Should().Be(5_000);
        a.Test.Count.Should().Be(5_000);
        a.Train.Features.Data.AsSpan().SequenceEqual(b.Train.Features.Data).Should().BeTrue();
        a.Validation.Labels.Should().Equal(b.Validation.Labels);
        a.Test.Labels.Should().Equal(b.Test.Labels);
        a.Test.Labels.Should().NotEqual(m.Test.Labels.Take(5_000), "the test part is a seeded sample, not the first 5,000");

        // Disjointness: every training image is used at most once across train and validation (counted by label sums).
        var all = a.Train.LabelHistogram().Zip(a.Validation.LabelHistogram(), (x, y) => x + y).ToArray();
        all.Zip(m.Train.LabelHistogram(), (used, total) => used <= total).Should().AllBeEquivalentTo(true);
        all.Sum().Should().Be(55_000);
        // Each class keeps roughly its share: a seeded uniform sample, not a block of the file.
        a.Validation.LabelHistogram().Should().OnlyContain(n => n > 380 && n < 620);
    }

    [Fact]
    public void Split_PartsAreExactlyTheShuffledIndices()
    {
        var ds = Tiny(10);
        var parts = ds.Split(new RandomGenerator(3), 4, 3);
        var order = Enumerable.Range(0, 10).ToArray();
        new RandomGenerator(3).Shuffle(order.AsSpan());
        parts[0].Labels.Should().Equal(order[..4].Order().Select(i => i % 10));
        parts[1].Labels.Should().Equal(order[4..7].Order().Select(i => i % 10));
        parts[0].Features.Data.Should().Equal(order[..4].Order().SelectMany(i => new[] { i, -i }.Select(v => (float)v)));
        ds.Split(null, 2, 3)[1].Labels.Should().Equal(2, 3, 4);
        ds.Split(new RandomGenerator(4), 4)[0].Labels.Should().NotEqual(parts[0].Labels, "another seed draws another sample");
        FluentActions.Invoking(() => ds.Split(null, 6, 5)).Should().Throw<ArgumentException>().WithMessage("*sum to 11, more than the 10*");
        FluentActions.Invoking(() => ds.Split(null, 0)).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void SubsetsShuffleAndBatches()
    {
        var ds = Tiny(10);
        ds.Take(3).Labels.Should().Equal(0, 1, 2);
        ds.Take(3).Features.Data.Should().Equal(0, 0, 1, -1, 2, -2);
        ds.Slice(8, 2).Labels.Should().Equal(8, 9);
        FluentActions.Invoking(() => ds.Take(11)).Should().Throw<ArgumentOutOfRangeException>();
        FluentActions.Invoking(() => ds.Slice(9, 2)).Should().Throw<ArgumentOutOfRangeException>();

        var s1 = ds.Shuffle(new RandomGenerator(5));
        var s2 = ds.Shuffle(new RandomGenerator(5));
        s1.Labels.Should().Equal(s2.Labels).And.BeEquivalentTo(ds.Labels).And.NotEqual(ds.Labels);
        for (int i = 0; i < 10; i++) s1.Features[i, 0].Should().Be(s1.Labels[i]);

        var buf = new double[4];
        var labels = new int[2];
        ds.CopyBatch<double>([7, 2], buf, labels);
        buf.Should().Equal(7, -7, 2, -2);
        labels.Should().Equal(7, 2);
        FluentActions.Invoking(() => ds.CopyBatch<double>([10], buf, labels)).Should().Throw<ArgumentException>().WithMessage("*index 10*outside [0, 10)*");
        FluentActions.Invoking(() => ds.CopyBatch<double>([1, 2, 3], buf, labels)).Should().Throw<ArgumentException>();
    }

    [Fact]
    public void OneHot_EncodesLabels()
    {
        var t = Dataset.OneHot<float>([2, 0, 9], 10);
        t.ShapeArray().Should().Equal(3, 10);
        t.Data.Sum().Should().Be(3);
        t[0, 2].Should().Be(1f);
        t[1, 0].Should().Be(1f);
        t[2, 9].Should().Be(1f);
        FluentActions.Invoking(() => Dataset.OneHot<float>([3, 10], 10)).Should().Throw<ArgumentException>().WithMessage("*label 10 at index 1*");
        Tiny(4).OneHot().ShapeArray().Should().Equal(4, 10);
    }

    [Fact]
    public void Constructor_RejectsBadLabelsCountsAndNonFinite()
    {
        FluentActions.Invoking(() => new Dataset(new NdArray<float>(3, 2), [0, 1], name: "x"))
            .Should().Throw<ArgumentException>().WithMessage("Dataset 'x': 3 examples*but 2 labels*");
        FluentActions.Invoking(() => new Dataset(new NdArray<float>(2, 2), [0, 10]))
            .Should().Throw<ArgumentException>().WithMessage("*label 10 of example 1*");
        FluentActions.Invoking(() => new Dataset(new NdArray<float>(2, 2), [0, -1]))
            .Should().Throw<ArgumentException>().WithMessage("*label -1*");
        var f = new NdArray<float>(2, 3);
        f[1, 2] = float.NaN;
        FluentActions.Invoking(() => new Dataset(f, [0, 1]))
            .Should().Throw<ArgumentException>().WithMessage("*feature 2 of example 1 is NaN*");
    }

    [Fact]
    public void MismatchedIdxCounts_And_BadLabel_FailNamingFiles()
    {
        using var dir = new TempDirectory();
        string images = dir.File("img"), labels = dir.File("lab");
        File.WriteAllBytes(images, [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 3, 4]);
        File.WriteAllBytes(labels, [0, 0, 8, 1, 0, 0, 0, 3, 1, 2, 3]);
        FluentActions.Invoking(() => Mnist.LoadIdx(images, labels))
            .Should().Throw<InvalidDataException>().WithMessage($"*'{images}' holds 2 images but '{labels}' holds 3 labels*");
        File.WriteAllBytes(labels, [0, 0, 8, 1, 0, 0, 0, 2, 1, 12]);
        FluentActions.Invoking(() => Mnist.LoadIdx(images, labels))
            .Should().Throw<InvalidDataException>().WithMessage($"{labels}: record 1 (byte offset 9) has label 12*");
        File.WriteAllBytes(labels, [0, 0, 8, 1, 0, 0, 0, 2, 1, 9]);
        var ok = Mnist.LoadIdx(images, labels);
        ok.Labels.Should().Equal(1, 9);
        ok.ExampleShapeArray().Should().Equal(2);
        ok.Features.Data.Should().Equal(1 / 255f, 2 / 255f, 3 / 255f, 4 / 255f);
        FluentActions.Invoking(() => Mnist.Load(dir.Path)).Should().Throw<FileNotFoundException>().WithMessage("*train-images-idx3-ubyte*");
    }

    internal static Dataset Tiny(int n)
    {
        var f = new NdArray<float>(n, 2);
        for (int i = 0; i < n; i++) { f[i, 0] = i; f[i, 1] = -i; }
        return new Dataset(f, Enumerable.Range(0, n).Select(i => i % 10).ToArray(), 10, "tiny");
    }
}
