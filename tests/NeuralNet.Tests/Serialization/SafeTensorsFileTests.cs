using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using NeuralNet.Serialization;

namespace NeuralNet.Tests.Serialization;

public class SafeTensorsFileTests
{
    private static SafeTensorsFile Sample()
    {
        var f = new SafeTensorsFile();
        var w = new NdArray<float>(3, 4);
        for (int i = 0; i < w.Length; i++) w.Data[i] = MathF.Sin(i) * 1e-3f + i;
        f.Add("layers.0.weight", w);
        f.Add("layers.0.bias", new NdArray<double>(new[] { 1.5, -2.25, double.Epsilon }, 3));
        f.Add("rng", new long[] { long.MinValue, 7, long.MaxValue, -1 });
        f.Add("state", new ulong[] { ulong.MaxValue, 1 }, 1, 2);
        f.Metadata["format"] = "test";
        f.Metadata["note"] = "ünïcode \"quoted\"";
        return f;
    }

    [Fact]
    public void RoundTrip_IsBitExact_AndKeepsOrderAndMetadata()
    {
        using var dir = new TempDirectory();
        string path = dir.File("a.safetensors");
        var original = Sample();
        original.Save(path);
        var loaded = SafeTensorsFile.Load(path);

        loaded.Tensors.Select(t => t.Name).Should().Equal("layers.0.weight", "layers.0.bias", "rng", "state");
        loaded.GetRequired("state").DType.Should().Be(SafeTensorDType.U64);
        loaded.GetRequired("state").ShapeArray().Should().Equal(1, 2);
        loaded.GetRequired("state").ToUInt64Array().Should().Equal(ulong.MaxValue, 1UL);
        FluentActions.Invoking(() => loaded.GetRequired("state").ToNdArray<float>()).Should().Throw<InvalidOperationException>();
        loaded.Metadata.Should().BeEquivalentTo(original.Metadata);
        loaded.Metadata.Should().NotContainKey(SafeTensorsFile.ChecksumKey);
        var w = loaded.GetRequired("layers.0.weight");
        w.DType.Should().Be(SafeTensorDType.F32);
        w.ShapeArray().Should().Equal(3, 4);
        w.ToNdArray<float>().Data.Should().Equal(original.Tensors[0].ToNdArray<float>().Data);
        loaded.GetRequired("layers.0.bias").ToNdArray<double>().Data.Should().Equal(1.5, -2.25, double.Epsilon);
        loaded.GetRequired("rng").ToInt64Array().Should().Equal(long.MinValue, 7, long.MaxValue, -1);
        loaded.Source.Should().Be(path);
    }

    [Fact]
    public void Layout_FollowsSafetensors()
    {
        byte[] bytes = Sample().ToArray();
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        ((8 + (long)n) % 8).Should().Be(0, "the data starts 8-byte aligned");
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var w = doc.RootElement.GetProperty("layers.0.weight");
        w.GetProperty("dtype").GetString().Should().Be("F32");
        w.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).Should().Equal(3, 4);
        w.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).Should().Equal(0, 48);
        doc.RootElement.GetProperty("layers.0.bias").GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).Should().Equal(48, 72);
        doc.RootElement.GetProperty("rng").GetProperty("dtype").GetString().Should().Be("I64");
        string digest = doc.RootElement.GetProperty("__metadata__").GetProperty(SafeTensorsFile.ChecksumKey).GetString()!;
        bytes.Length.Should().Be(8 + (int)n + 48 + 24 + 32 + 16);
        doc.RootElement.GetProperty("state").GetProperty("dtype").GetString().Should().Be("U64");
        BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 + (int)n + 4)).Should().Be(MathF.Sin(1) * 1e-3f + 1);

        // The checksum is the SHA-256 of the file with its own 64 hex digits blanked to '0'.
        var blanked = (byte[])bytes.Clone();
        int at = Encoding.ASCII.GetString(blanked).IndexOf(digest, StringComparison.Ordinal);
        Encoding.ASCII.GetBytes(new string('0', 64)).CopyTo(blanked, at);
        Convert.ToHexStringLower(SHA256.HashData(blanked)).Should().Be(digest);
    }

    [Fact]
    public void ForeignFileWithoutChecksum_LoadsOnlyWhenAllowed()
    {
        // A minimal file as another safetensors writer would produce it: no metadata, one F32 scalar.
        string json = "{\"x\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}";
        var bytes = Build(json, BitConverter.GetBytes(2.5f));
        var f = SafeTensorsFile.Parse(bytes, "foreign.safetensors", requireChecksum: false);
        f.GetRequired("x").ToNdArray<float>().Data.Should().Equal(2.5f);
        FluentActions.Invoking(() => SafeTensorsFile.Parse(bytes, "foreign.safetensors"))
            .Should().Throw<InvalidDataException>().WithMessage("foreign.safetensors:*no 'neuralnet.sha256' checksum*");
    }

    [Fact]
    public void CorruptedTensorByte_FailsChecksum()
    {
        using var dir = new TempDirectory();
        string path = dir.File("c.safetensors");
        Sample().Save(path);
        var bytes = File.ReadAllBytes(path);
        bytes[^5] ^= 0x10;
        File.WriteAllBytes(path, bytes);
        FluentActions.Invoking(() => SafeTensorsFile.Load(path))
            .Should().Throw<InvalidDataException>().WithMessage($"{path}: checksum mismatch*");
    }

    [Fact]
    public void CorruptedMetadata_FailsChecksum()
    {
        var bytes = Sample().ToArray();
        int at = Encoding.UTF8.GetString(bytes).IndexOf("\"test\"", StringComparison.Ordinal);
        bytes[at + 1] = (byte)'b'; // "test" -> "best": still valid JSON
        FluentActions.Invoking(() => SafeTensorsFile.Parse(bytes, "m.safetensors"))
            .Should().Throw<InvalidDataException>().WithMessage("m.safetensors: checksum mismatch*");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(20)]
    [InlineData(100)]
    [InlineData(-1)]
    public void TruncatedFile_FailsWithOffset(int keep)
    {
        var bytes = Sample().ToArray();
        var cut = bytes.AsSpan(0, keep < 0 ? bytes.Length - 1 : keep).ToArray();
        FluentActions.Invoking(() => SafeTensorsFile.Parse(cut, "t.safetensors"))
            .Should().Throw<InvalidDataException>().WithMessage("t.safetensors: *")
            .Which.Message.Should().MatchRegex("offset|bytes");
    }

    [Fact]
    public void Int64Scalar_HasShapeEmptyAndRoundTrips()
    {
        // PyTorch's num_batches_tracked: an int64 of rank 0, which safetensors writes as "shape": [].
        var f = new SafeTensorsFile();
        f.AddScalar("1.num_batches_tracked", 4);
        f.Add("1.running_mean", new NdArray<float>(new[] { 0.5f }, 1));
        byte[] bytes = f.ToArray();
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, (int)n));
        var e = doc.RootElement.GetProperty("1.num_batches_tracked");
        e.GetProperty("dtype").GetString().Should().Be("I64");
        e.GetProperty("shape").GetArrayLength().Should().Be(0);
        e.GetProperty("data_offsets").EnumerateArray().Select(x => x.GetInt64()).Should().Equal(0, 8);
        var back = SafeTensorsFile.Parse(bytes, "scalar");
        back.GetRequired("1.num_batches_tracked").ShapeArray().Should().BeEmpty();
        back.GetRequired("1.num_batches_tracked").ElementCount.Should().Be(1);
        back.GetRequired("1.num_batches_tracked").ToInt64Array().Should().Equal(4L);
        FluentActions.Invoking(() => f.AddScalar("1.num_batches_tracked", 5)).Should().Throw<ArgumentException>().WithMessage("*already exists*");
    }

    [Fact]
    public void HeaderLengthLargerThanFile_FailsFast()
    {
        var bytes = Sample().ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 1UL << 40);
        FluentActions.Invoking(() => SafeTensorsFile.Parse(bytes, "h.safetensors"))
            .Should().Throw<InvalidDataException>().WithMessage("h.safetensors: the header length at offset 0 claims 1099511627776 bytes but only*");
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
        FluentActions.Invoking(() => SafeTensorsFile.Parse(bytes, "h.safetensors")).Should().Throw<InvalidDataException>();
    }

    [Theory]
    [InlineData(new byte[] { 0, 0, 0, 0, 0, 0, 0, 0 }, "*header length at offset 0 is 0*")]
    [InlineData(new byte[] { 0xE8, 0x03, 0, 0, 0, 0, 0, 0, 0x7F, 0x45, 0x4C, 0x46 }, "*JSON header (bytes 8 to 1008) is malformed*")]
    [InlineData(new byte[] { 0x2A, 0x2A, 0x2A, 0x2A, 0x2A, 0x2A, 0x2A, 0x2A }, "*claims 3038287259199220266 bytes*")]
    public void LargeJunkFile_FailsAfterReadingOnlyItsHeader(byte[] start, string message)
    {
        // A sparse 1.9 GB file: the reader must judge it by its first bytes, not read it all first.
        using var dir = new TempDirectory();
        string path = dir.File("junk.safetensors");
        using (var s = new FileStream(path, FileMode.CreateNew))
        {
            s.Write(start);
            s.SetLength(1_900_000_000);
        }
        File.WriteAllBytes(dir.File("ok.safetensors"), Sample().ToArray());
        SafeTensorsFile.Load(dir.File("ok.safetensors")); // JIT warm-up, so the clock measures the read
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        FluentActions.Invoking(() => SafeTensorsFile.Load(path)).Should().Throw<InvalidDataException>().WithMessage(path + ": " + message);
        clock.Stop();
        long used = GC.GetAllocatedBytesForCurrentThread() - allocated;
        used.Should().BeLessThan(1_000_000, "only the 8-byte length and at most the declared header are read");
        clock.Elapsed.TotalSeconds.Should().BeLessThan(0.5);
    }

    [Theory]
    [InlineData("[1,2]", "*is a Array, not an object*")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1000000,1000000],\"data_offsets\":[0,4]}}", "*claims shape [1000000,1000000]*")]
    [InlineData("{\"x\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", "*dtype 'BF16'*")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "*needs 8 bytes*span 4*")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "*outside the 4 data bytes*")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "*shape entry 0 = -1*")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "*overlaps*")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", "*names 'x' twice*")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", "*malformed*")]
    [InlineData("{\"__metadata__\":{\"a\":1}}", "*metadata 'a' is a Number*")]
    [InlineData("{}", "*cover 0 data bytes but the file has 4*")]
    [InlineData("{\"n\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", "*needs 8 bytes*span 4*")]
    public void MalformedHeader_FailsWithReason(string json, string message)
    {
        var bytes = Build(json, new byte[4]);
        FluentActions.Invoking(() => SafeTensorsFile.Parse(bytes, "bad.safetensors", requireChecksum: false))
            .Should().Throw<InvalidDataException>().WithMessage("bad.safetensors: " + message);
    }

    [Fact]
    public void AtomicSave_CrashMidWriteLeavesPreviousFileIntact()
    {
        using var dir = new TempDirectory();
        string path = dir.File("model.safetensors");
        Sample().Save(path);
        byte[] before = File.ReadAllBytes(path);

        FluentActions.Invoking(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new IOException("simulated crash mid-save");
        })).Should().Throw<IOException>();

        File.ReadAllBytes(path).Should().Equal(before);
        Directory.GetFiles(dir.Path).Should().ContainSingle("the temporary file is removed");
        SafeTensorsFile.Load(path).Tensors.Should().HaveCount(4);
    }

    [Fact]
    public void InvalidNamesAndShapes_ThrowArgumentException()
    {
        var f = new SafeTensorsFile();
        f.Add("a", new NdArray<float>(1));
        FluentActions.Invoking(() => f.Add("a", new NdArray<float>(1))).Should().Throw<ArgumentException>().WithMessage("*'a' already exists*");
        FluentActions.Invoking(() => f.Add("__metadata__", new NdArray<float>(1))).Should().Throw<ArgumentException>();
        FluentActions.Invoking(() => f.Add("l", new long[] { 1, 2, 3 }, 2, 2)).Should().Throw<ArgumentException>().WithMessage("*3 values*needs 4*");
        f.Metadata[SafeTensorsFile.ChecksumKey] = "x";
        FluentActions.Invoking(() => f.ToArray()).Should().Throw<ArgumentException>().WithMessage("*reserved*");
        FluentActions.Invoking(() => new SafeTensorsFile().GetRequired("q")).Should().Throw<InvalidDataException>().WithMessage("*missing tensor 'q'*");
    }

    private static byte[] Build(string json, byte[] data)
    {
        var header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }
}
