using System.Buffers.Binary;
using System.IO.Compression;
using NeuralNet.Data;
using NeuralNet.Tests.Serialization;

namespace NeuralNet.Tests.Data;

/// <summary>Gzip members that are damaged, followed by garbage, or inflate far beyond their IDX header.</summary>
public class IdxGzipTests
{
    private static byte[] Labels(int count, byte fill = 3)
    {
        var raw = new byte[8 + count];
        BinaryPrimitives.WriteInt32BigEndian(raw, IdxReader.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(4), count);
        raw.AsSpan(8).Fill(fill);
        return raw;
    }

    private static byte[] Gzip(byte[] raw, long extraZeros = 0)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true))
        {
            gz.Write(raw);
            var zeros = new byte[1 << 20];
            for (long left = extraZeros; left > 0; left -= zeros.Length) gz.Write(zeros, 0, (int)Math.Min(left, zeros.Length));
        }
        return ms.ToArray();
    }

    private static string Write(TempDirectory dir, string name, byte[] bytes)
    {
        string p = dir.File(name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(5000)]
    public void GarbageAfterTheGzipMember_IsRejected(int garbage)
    {
        using var dir = new TempDirectory();
        var junk = new byte[garbage];
        new Random(garbage).NextBytes(junk);
        junk[0] = (byte)'x'; // not the start of another gzip member
        string path = Write(dir, "labels.gz", [.. Gzip(Labels(100)), .. junk]);
        FluentActions.Invoking(() => IdxReader.ReadLabels(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{path}*{garbage} trailing bytes after the gzip member*");
        // The same through a pipe, where the reader cannot seek to the end.
        FluentActions.Invoking(() => IdxReader.Read(new NonSeekableStream(File.ReadAllBytes(path)), "pipe", IdxReader.LabelsMagic))
            .Should().Throw<InvalidDataException>().WithMessage("pipe*trailing bytes after the gzip member*");
    }

    [Fact]
    public void GzipWithBadCrc_SaysSo()
    {
        using var dir = new TempDirectory();
        var gz = Gzip(Labels(100));
        gz[^8] ^= 0xFF; // CRC-32 in the gzip trailer
        string path = Write(dir, "crc.gz", gz);
        var e = FluentActions.Invoking(() => IdxReader.ReadLabels(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{path}*CRC-32*").Which;
        e.Message.Should().NotContain("compression method");
    }

    [Fact]
    public void TwoConcatenatedMembers_AreReadAsOneStream()
    {
        // RFC 1952 allows several members; gzip -d concatenates them, and so does the reader.
        using var dir = new TempDirectory();
        var raw = Labels(100, fill: 5);
        string path = Write(dir, "two.gz", [.. Gzip(raw[..50]), .. Gzip(raw[50..])]);
        IdxReader.ReadLabels(path).Data.Should().Equal(Enumerable.Repeat((byte)5, 100));
    }

    [Fact]
    public void GzipInflatingFarBeyondItsHeader_StopsAtTheDeclaredSize()
    {
        // 1,000 labels declared, then 256 MiB of zeros in the same member (a few hundred KB compressed):
        // the reader must fail after inflating what the header needs, not inflate everything.
        using var dir = new TempDirectory();
        string path = Write(dir, "bomb.gz", Gzip(Labels(1000), extraZeros: 256L << 20));
        new FileInfo(path).Length.Should().BeLessThan(1_000_000);
        IdxReader.ReadLabels(Write(dir, "ok.gz", Gzip(Labels(10)))); // JIT warm-up
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        FluentActions.Invoking(() => IdxReader.ReadLabels(path)).Should().Throw<InvalidDataException>()
            .WithMessage($"{path}*more data than the header's 1000 bytes*offset 1008*");
        clock.Stop();
        (GC.GetAllocatedBytesForCurrentThread() - allocated).Should().BeLessThan(4_000_000);
        clock.Elapsed.TotalSeconds.Should().BeLessThan(1, "inflating 256 MiB would take longer");
    }

    [Fact]
    public void DirectoryWhereAFileShouldBe_IsNamedAsSuch()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(dir.File(Mnist.TrainImagesFile));
        FluentActions.Invoking(() => Mnist.Load(dir.Path)).Should().Throw<FileNotFoundException>()
            .WithMessage($"*'{dir.File(Mnist.TrainImagesFile)}' is a directory, not a file*");
    }

    private sealed class NonSeekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
