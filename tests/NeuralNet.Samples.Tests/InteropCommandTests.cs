using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using MnistSample;
using MnistSample.Cli;
using MnistSample.Commands;
using MnistSample.Report;
using NeuralNet.Losses;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Optimization;
using NeuralNet.Serialization;
using NeuralNet.Training;

namespace NeuralNet.Samples.Tests;

/// <summary>
/// A small MLP trained once on 6,000 MNIST training images, and the first 20 MNIST test digits written as images:
/// PNG as MNIST stores them (light on dark, 28×28), and enlarged, inverted (dark on light) and off-centre on a larger
/// canvas, as a user's drawing would be.
/// </summary>
public sealed class InteropFixture : IDisposable
{
    public const int Digits = 20;

    public InteropFixture()
    {
        Dir = Path.Combine(Path.GetTempPath(), $"nn-interop-{Guid.NewGuid():N}");
        Directory.CreateDirectory(Dir);
        var data = NeuralNet.Data.Mnist.Load(NeuralNet.Data.Mnist.FindDataDirectory());
        var train = data.Train.Take(6000);
        var model = MlpBuilder.Build<float>(784, [64], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, new RandomGenerator(1));
        var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, 0.1, momentum: 0.9), random: new RandomGenerator(2));
        trainer.Fit(train.Features, train.Labels, new TrainerOptions { Epochs = 3, BatchSize = 32 });
        ModelPath = Path.Combine(Dir, "model.safetensors");
        ModelSerializer.Save(model, ModelPath);
        Model = model;

        var test = data.Test.Take(Digits);
        Labels = test.Labels;
        Originals = new float[Digits][];
        for (int i = 0; i < Digits; i++)
        {
            var pixels = test.Features.Data.AsSpan(i * 784, 784).ToArray();
            Originals[i] = pixels;
            var bytes = pixels.Select(v => (byte)Math.Round(v * 255)).ToArray();
            File.WriteAllBytes(Png(i), PngEncoder.EncodeGrey(bytes, 28, 28));
            // Dark on light, three times larger, placed off-centre on a 120×100 canvas of light grey paper.
            var canvas = Enumerable.Repeat((byte)230, 120 * 100).ToArray();
            for (int y = 0; y < 84; y++)
                for (int x = 0; x < 84; x++)
                    canvas[(y + 5) * 120 + x + 30] = (byte)(230 - bytes[y / 3 * 28 + x / 3] * 230 / 255);
            File.WriteAllBytes(Drawing(i), PngEncoder.EncodeGrey(canvas, 120, 100));
        }
        File.WriteAllBytes(Bmp(0), Bmp24(Originals[0].Select(v => (byte)Math.Round(v * 255)).ToArray(), 28, 28));
    }

    public string Dir { get; }

    public string ModelPath { get; }

    public Sequential<float> Model { get; }

    public int[] Labels { get; }

    public float[][] Originals { get; }

    public string Png(int i) => Path.Combine(Dir, $"digit{i}.png");

    public string Drawing(int i) => Path.Combine(Dir, $"drawing{i}.png");

    public string Bmp(int i) => Path.Combine(Dir, $"digit{i}.bmp");

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { }
    }

    // A bottom-up 24-bit BMP, grey pixels.
    private static byte[] Bmp24(byte[] grey, int w, int h)
    {
        int row = (w * 3 + 3) & ~3;
        var b = new byte[54 + row * h];
        b[0] = (byte)'B'; b[1] = (byte)'M';
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(2), b.Length);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(10), 54);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(14), 40);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(18), w);
        BinaryPrimitives.WriteInt32LittleEndian(b.AsSpan(22), h);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(26), 1);
        BinaryPrimitives.WriteInt16LittleEndian(b.AsSpan(28), 24);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                int at = 54 + (h - 1 - y) * row + x * 3;
                b[at] = b[at + 1] = b[at + 2] = grey[y * w + x];
            }
        return b;
    }
}

public class InteropCommandTests(InteropFixture f) : IClassFixture<InteropFixture>
{
    private static (int Code, string Out, string Err) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CommandLine.Run(args, _ => throw new InvalidOperationException("training must not start"), output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static int[] Classes(string stdout) => stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(l => int.Parse(l.Split(": ", 2)[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void PredictClassifiesMnistDigitsWrittenAsPng()
    {
        var (code, stdout, stderr) = Run(["predict", "--model", f.ModelPath, .. Enumerable.Range(0, InteropFixture.Digits).Select(f.Png)]);
        code.Should().Be(0, stderr);
        var classes = Classes(stdout);
        classes.Should().HaveCount(InteropFixture.Digits);
        int correct = classes.Zip(f.Labels).Count(p => p.First == p.Second);
        correct.Should().BeGreaterThanOrEqualTo(17, $"the model is ~90% accurate; got {stdout}");
        stdout.Should().MatchRegex(@"digit0\.png: \d  \(\d: [01]\.\d{3}, \d: [01]\.\d{3}, \d: [01]\.\d{3}\)");
    }

    [Fact]
    public void DrawingsDarkOnLightLargerAndOffCentreAreNormalizedLikeMnist()
    {
        var (code, stdout, stderr) = Run(["predict", "--model", f.ModelPath, .. Enumerable.Range(0, InteropFixture.Digits).Select(f.Drawing)]);
        code.Should().Be(0, stderr);
        int correct = Classes(stdout).Zip(f.Labels).Count(p => p.First == p.Second);
        correct.Should().BeGreaterThanOrEqualTo(16, stdout);
        for (int i = 0; i < InteropFixture.Digits; i++)
        {
            // The conversion recovers an MNIST-like image: close to the original digit (cosine similarity).
            float[] back = DigitImage.Load(f.Drawing(i));
            double dot = 0, a = 0, b = 0;
            for (int p = 0; p < 784; p++) { dot += back[p] * f.Originals[i][p]; a += back[p] * back[p]; b += f.Originals[i][p] * f.Originals[i][p]; }
            (dot / Math.Sqrt(a * b)).Should().BeGreaterThan(0.8, $"drawing {i}");
        }
    }

    [Fact]
    public void JsonOutputCarriesClassAndTop3()
    {
        var (code, stdout, stderr) = Run("predict", "--json", "--model", f.ModelPath, f.Png(0), f.Png(1), f.Bmp(0));
        code.Should().Be(0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var items = doc.RootElement.EnumerateArray().ToArray();
        items.Should().HaveCount(3);
        foreach (var item in items)
        {
            var top = item.GetProperty("top3").EnumerateArray().Select(t => t.GetProperty("probability").GetDouble()).ToArray();
            top.Should().HaveCount(3).And.BeInDescendingOrder();
            top.Sum().Should().BeLessThanOrEqualTo(1.000001);
            item.GetProperty("class").GetInt32().Should().Be(item.GetProperty("top3")[0].GetProperty("class").GetInt32());
        }
        items[2].GetProperty("class").GetInt32().Should().Be(items[0].GetProperty("class").GetInt32(), "the BMP holds the same digit as the PNG");
    }

    [Fact]
    public void JpegDrawingsAreClassifiedLikeTheDigitsTheyShow()
    {
        // Made by Fixtures/digits/make_jpeg.py from the first three MNIST test digits.
        string dir = Path.Combine(AppContext.BaseDirectory, "Fixtures", "digits");
        string[] jpegs = [.. Directory.GetFiles(dir, "*.jpg").Order(StringComparer.Ordinal)];
        jpegs.Should().HaveCount(3);
        var (code, stdout, stderr) = Run(["predict", "--model", f.ModelPath, .. jpegs]);
        code.Should().Be(0, stderr);
        var viaPng = Run(["predict", "--model", f.ModelPath, f.Png(0), f.Png(1), f.Png(2)]);
        Classes(stdout).Should().Equal(Classes(viaPng.Out), "the JPEG and the PNG show the same digits");
        Classes(stdout).Should().Equal(f.Labels[..3]);
    }

    [Fact]
    public void ExportWritesOnnxAndTorchWeightsAndPredictAcceptsTheOnnxFile()
    {
        string onnx = Path.Combine(f.Dir, "model.onnx"), torch = Path.Combine(f.Dir, "model.torch.safetensors");
        var (code, stdout, stderr) = Run("export", "--model", f.ModelPath, "--onnx", onnx, "--safetensors-torch", torch);
        code.Should().Be(0, stderr);
        stdout.Should().Contain("opset 13").And.Contain("0.weight");

        string[] images = [.. Enumerable.Range(0, 5).Select(f.Png)];
        var viaModel = Run(["predict", "--json", "--model", f.ModelPath, .. images]);
        var viaOnnx = Run(["predict", "--json", "--model", onnx, .. images]);
        viaOnnx.Code.Should().Be(0, viaOnnx.Err);
        viaOnnx.Out.Should().Be(viaModel.Out.Replace(f.ModelPath, onnx));

        var copy = MlpBuilder.Build<float>(784, [64], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, new RandomGenerator(99));
        TorchStateDict.Load(copy, torch);
        copy.Parameters.Select(p => p.Value.Data).Should().BeEquivalentTo(f.Model.Parameters.Select(p => p.Value.Data), o => o.WithStrictOrdering());
    }

    public static TheoryData<string> HostileImages() => ["truncated", "huge-header", "not-an-image", "empty", "missing", "blank"];

    [Theory]
    [MemberData(nameof(HostileImages))]
    public void HostileImagesGiveAClearErrorAndExitCode1(string which)
    {
        string path = Path.Combine(f.Dir, $"hostile-{which}.png");
        switch (which)
        {
            case "truncated":
                var png = File.ReadAllBytes(f.Drawing(3));
                File.WriteAllBytes(path, png[..(png.Length * 2 / 3)]);
                break;
            case "huge-header":
                File.WriteAllBytes(path, PngHeader(50_000, 50_000));
                break;
            case "not-an-image":
                File.WriteAllText(path, "this is not an image\n");
                break;
            case "empty":
                File.WriteAllBytes(path, []);
                break;
            case "blank":
                File.WriteAllBytes(path, PngEncoder.EncodeGrey(Enumerable.Repeat((byte)255, 28 * 28).ToArray(), 28, 28));
                break;
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var (code, stdout, stderr) = Run("predict", "--model", f.ModelPath, path, f.Png(0));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        code.Should().Be(CommandLine.RunError);
        stderr.Should().StartWith("mnist predict: error: ").And.Contain(path).And.NotContain("   at ");
        stdout.Should().Contain("digit0.png", "the good image is still classified");
        allocated.Should().BeLessThan(64L << 20, "a header claiming 50000×50000 pixels must not be decoded");
    }

    [Fact]
    public void BadModelFilesGiveAClearErrorAndExitCode1()
    {
        string garbage = Path.Combine(f.Dir, "garbage.onnx");
        File.WriteAllBytes(garbage, Encoding.ASCII.GetBytes("definitely not protobuf \x01\x02\xff"));
        var (code, _, stderr) = Run("predict", "--model", garbage, f.Png(0));
        code.Should().Be(CommandLine.RunError);
        stderr.Should().Contain("garbage.onnx");

        var missing = Run("export", "--model", Path.Combine(f.Dir, "nope.safetensors"), "--onnx", Path.Combine(f.Dir, "x.onnx"));
        missing.Code.Should().Be(CommandLine.RunError);
        missing.Err.Should().Contain("nope.safetensors");

        Run("export", "--model", f.ModelPath).Code.Should().Be(CommandLine.UsageError);
    }

    // A PNG signature and an IHDR chunk (with a correct CRC) claiming width × height, then nothing.
    private static byte[] PngHeader(int width, int height)
    {
        var ms = new MemoryStream();
        ms.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var chunk = new byte[4 + 13];
        Encoding.ASCII.GetBytes("IHDR").CopyTo(chunk, 0);
        BinaryPrimitives.WriteInt32BigEndian(chunk.AsSpan(4), width);
        BinaryPrimitives.WriteInt32BigEndian(chunk.AsSpan(8), height);
        chunk[12] = 8; // bit depth
        chunk[13] = 0; // greyscale
        var len = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, 13);
        ms.Write(len);
        ms.Write(chunk);
        var crc = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, PngEncoder.Crc32(0xFFFFFFFF, chunk) ^ 0xFFFFFFFF);
        ms.Write(crc);
        return ms.ToArray();
    }
}
