using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using NeuralNet.Data;
using NeuralNet.Tests.Serialization;

namespace NeuralNet.Tests.Data;

public class IdxReaderTests
{
    private static byte[] Idx(int magic, int[] dims, int dataBytes, byte fill = 7)
    {
        var bytes = new byte[4 + 4 * dims.Length + dataBytes];
        BinaryPrimitives.WriteInt32BigEndian(bytes, magic);
        for (int i = 0; i < dims.Length; i++) BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4 + 4 * i), dims[i]);
        bytes.AsSpan(4 + 4 * dims.Length).Fill(fill);
        return bytes;
    }

    private static byte[] Gzip(byte[] raw)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(raw);
        return ms.ToArray();
    }

    private static string Write(TempDirectory dir, string name, byte[] bytes)
    {
        string p = dir.File(name);
        File.WriteAllBytes(p, bytes);
        return p;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ReadsRawAndGzip_DetectingGzipByMagicNotName(bool gzip)
    {
        using var dir = new TempDirectory();
        var raw = Idx(IdxReader.ImagesMagic, [3, 2, 4], 24);
        for (int i = 0; i < 24; i++) raw[16 + i] = (byte)(i * 10);
        string path = Write(dir, "images.bin", gzip ? Gzip(raw) : raw); // no .gz suffix on purpose
        var a = IdxReader.ReadImages(path);
        a.DimensionsArray().Should().Equal(3, 2, 4);
        a.Count.Should().Be(3);
        a.Data.Should().Equal(raw[16..]);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void HeaderClaimingTrillionElements_FailsFast(bool gzip)
    {
        using var dir = new TempDirectory();
        // 10^12 = 1,000,000 × 1,000 × 1,000 images with only 10 real bytes behind the header.
        var raw = Idx(IdxReader.ImagesMagic, [1_000_000, 1_000, 1_000], 10);
        string path = Write(dir, "huge", gzip ? Gzip(raw) : raw);
        long before = GC.GetAllocatedBytesForCurrentThread();
        FluentActions.Invoking(() => IdxReader.ReadImages(path))
            .Should().Throw<InvalidDataException>().WithMessage($"{path}*claims 1000000 × 1000 × 1000*over the limit*");
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(2_000_000, "nothing is allocated by the claimed size");
    }

    [Fact]
    public void GzipHeaderClaimUnderCap_GrowsOnlyWithRealData()
    {
        using var dir = new TempDirectory();
        // 500 MB claimed (under the 1 GiB cap) but only 100 bytes present: must fail as truncated without a 500 MB buffer.
        var raw = Idx(IdxReader.LabelsMagic, [500_000_000], 100);
        string path = Write(dir, "labels.gz", Gzip(raw));
        long before = GC.GetAllocatedBytesForCurrentThread();
        FluentActions.Invoking(() => IdxReader.ReadLabels(path))
            .Should().Throw<InvalidDataException>().WithMessage("*truncated*500000000 bytes of data from offset 8*ends at offset 108*");
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(4_000_000);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void TruncatedData_NamesFileAndOffset(bool gzip)
    {
        using var dir = new TempDirectory();
        var raw = Idx(IdxReader.ImagesMagic, [2, 28, 28], 2 * 784)[..^100];
        string path = Write(dir, "t", gzip ? Gzip(raw) : raw);
        FluentActions.Invoking(() => IdxReader.ReadImages(path))
            .Should().Throw<InvalidDataException>().WithMessage($"{path}*truncated*1568 bytes of data from offset 16*ends at offset 1484*");
    }

    [Theory]
    [InlineData(false, 3)]
    [InlineData(false, 10)]
    [InlineData(true, 3)]
    [InlineData(true, 10)]
    public void TruncatedHeader_NamesOffset(bool gzip, int keep)
    {
        using var dir = new TempDirectory();
        var raw = Idx(IdxReader.ImagesMagic, [2, 28, 28], 0)[..keep];
        string path = Write(dir, "h", gzip ? Gzip(raw) : raw);
        FluentActions.Invoking(() => IdxReader.ReadImages(path))
            .Should().Throw<InvalidDataException>().WithMessage($"{path}*truncated: the file ends at offset {keep}*");
    }

    [Fact]
    public void TruncatedGzipStream_Fails()
    {
        using var dir = new TempDirectory();
        var gz = Gzip(Idx(IdxReader.LabelsMagic, [5000], 5000, fill: 3));
        string path = Write(dir, "cut.gz", gz[..(gz.Length / 2)]);
        FluentActions.Invoking(() => IdxReader.ReadLabels(path)).Should().Throw<InvalidDataException>().WithMessage($"{path}*");
    }

    [Fact]
    public void CorruptedGzipStream_FailsNamingFile()
    {
        using var dir = new TempDirectory();
        var raw = new byte[8 + 20000];
        BinaryPrimitives.WriteInt32BigEndian(raw, IdxReader.LabelsMagic);
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(4), 20000);
        new Random(1).NextBytes(raw.AsSpan(8));
        var gz = Gzip(raw);
        for (int i = 40; i < 60; i++) gz[i] ^= 0xA5;
        string path = Write(dir, "bad.gz", gz);
        FluentActions.Invoking(() => IdxReader.ReadLabels(path)).Should().Throw<InvalidDataException>().WithMessage($"{path}*");
    }

    [Fact]
    public void GzipWithBadCrc_Fails()
    {
        using var dir = new TempDirectory();
        var gz = Gzip(Idx(IdxReader.LabelsMagic, [100], 100));
        gz[^8] ^= 0xFF; // CRC32 in the gzip trailer
        string path = Write(dir, "crc.gz", gz);
        FluentActions.Invoking(() => IdxReader.ReadLabels(path)).Should().Throw<InvalidDataException>().WithMessage($"{path}*corrupt*");
    }

    [Fact]
    public void WrongMagic_Fails()
    {
        using var dir = new TempDirectory();
        string labels = Write(dir, "l", Idx(IdxReader.LabelsMagic, [4], 4));
        FluentActions.Invoking(() => IdxReader.ReadImages(labels))
            .Should().Throw<InvalidDataException>().WithMessage($"{labels}: wrong magic number 0x00000801 at offset 0; expected 0x00000803*");
        string floats = Write(dir, "f", Idx(0x00000D01, [4], 16));
        FluentActions.Invoking(() => IdxReader.Read(floats)).Should().Throw<InvalidDataException>().WithMessage("*element type 0x0D at offset 2*");
        string junk = Write(dir, "j", "hello world, not idx"u8.ToArray());
        FluentActions.Invoking(() => IdxReader.ReadLabels(junk)).Should().Throw<InvalidDataException>().WithMessage("*wrong magic*");
    }

    [Fact]
    public void ZeroDimensionAndTrailingBytes_Fail()
    {
        using var dir = new TempDirectory();
        string zero = Write(dir, "z", Idx(IdxReader.ImagesMagic, [5, 0, 28], 0));
        FluentActions.Invoking(() => IdxReader.ReadImages(zero)).Should().Throw<InvalidDataException>().WithMessage("*dimension 1 at offset 8 is 0*");
        string trailing = Write(dir, "t", Idx(IdxReader.LabelsMagic, [4], 6));
        FluentActions.Invoking(() => IdxReader.ReadLabels(trailing)).Should().Throw<InvalidDataException>().WithMessage("*2 unexpected trailing bytes*offset 12*");
        string trailingGz = Write(dir, "t.gz", Gzip(Idx(IdxReader.LabelsMagic, [4], 6)));
        FluentActions.Invoking(() => IdxReader.ReadLabels(trailingGz)).Should().Throw<InvalidDataException>().WithMessage("*trailing bytes*offset 12*");
    }

    [Fact]
    public void NonSeekableStream_Works()
    {
        var raw = Idx(IdxReader.LabelsMagic, [3], 3, fill: 9);
        var a = IdxReader.Read(new NonSeekable(new MemoryStream(Gzip(raw))), "pipe", IdxReader.LabelsMagic);
        a.Data.Should().Equal(9, 9, 9);
        var b = IdxReader.Read(new NonSeekable(new MemoryStream(raw)), "pipe", IdxReader.LabelsMagic);
        b.Data.Should().Equal(9, 9, 9);
    }

    [Fact]
    public void BundledMnist_RebuildsToTheRecordedSha256()
    {
        var sums = File.ReadAllLines(Path.Combine(MnistFixture.MnistDirectory, "SHA256SUMS.raw"))
            .Select(l => l.Split("  ")).ToDictionary(p => p[1], p => p[0]);
        sums.Should().HaveCount(4);
        // Rebuild each raw IDX file from the loaded data sets (pixel = round(x·255), exact for x = p/255): proves every
        // header and data byte was read, in order, and scaled reversibly.
        var m = MnistFixture.Data;
        foreach (var (name, ds) in new[] { (Mnist.TrainImagesFile, m.Train), (Mnist.TestImagesFile, m.Test) })
        {
            var raw = new byte[16 + ds.Features.Length];
            BinaryPrimitives.WriteInt32BigEndian(raw, IdxReader.ImagesMagic);
            BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(4), ds.Count);
            BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(8), 28);
            BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(12), 28);
            var f = ds.Features.Data;
            for (int i = 0; i < f.Length; i++) raw[16 + i] = (byte)MathF.Round(f[i] * 255f);
            Convert.ToHexStringLower(SHA256.HashData(raw)).Should().Be(sums[name], name);
        }
        foreach (var (name, ds) in new[] { (Mnist.TrainLabelsFile, m.Train), (Mnist.TestLabelsFile, m.Test) })
        {
            var raw = new byte[8 + ds.Count];
            BinaryPrimitives.WriteInt32BigEndian(raw, IdxReader.LabelsMagic);
            BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(4), ds.Count);
            for (int i = 0; i < ds.Count; i++) raw[8 + i] = (byte)ds.Labels[i];
            Convert.ToHexStringLower(SHA256.HashData(raw)).Should().Be(sums[name], name);
        }
    }

    [Fact]
    public void RawIdxFile_ReadsLikeTheGzippedOne()
    {
        using var dir = new TempDirectory();
        string gz = Path.Combine(MnistFixture.MnistDirectory, Mnist.TestLabelsFile + ".gz");
        string raw = dir.File(Mnist.TestLabelsFile);
        using (var src = new GZipStream(File.OpenRead(gz), CompressionMode.Decompress))
        using (var dst = File.Create(raw))
            src.CopyTo(dst);
        IdxReader.ReadLabels(raw).Data.Should().Equal(IdxReader.ReadLabels(gz).Data);
        IdxReader.ReadLabels(raw).Count.Should().Be(10_000);
    }

    private sealed class NonSeekable(Stream inner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 3));
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
