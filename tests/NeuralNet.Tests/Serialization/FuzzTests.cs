using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using NeuralNet.Data;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Serialization;

namespace NeuralNet.Tests.Serialization;

/// <summary>Random damage to every file type must end in success or InvalidDataException, never anything else.</summary>
public class FuzzTests
{
    private static void OnlyInvalidData(Action action, Func<string> what)
    {
        try { action(); }
        catch (InvalidDataException) { }
        catch (Exception e) { throw new Xunit.Sdk.XunitException($"{what()}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}"); }
    }

    [Fact]
    public void SafeTensorsHeader_RandomDamage()
    {
        string json = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[24,32]},\"__metadata__\":{\"k\":\"v\"}}";
        var header = Encoding.UTF8.GetBytes(json);
        var original = new byte[8 + header.Length + 32];
        BinaryPrimitives.WriteUInt64LittleEndian(original, (ulong)header.Length);
        header.CopyTo(original, 8);
        SafeTensorsFile.Parse((byte[])original.Clone(), "f", requireChecksum: false).Tensors.Should().HaveCount(2);

        var rng = new RandomGenerator(11);
        const string alphabet = "{}[]\",:0123456789-eE.aFIdtypeshapdta_ofs ";
        for (int trial = 0; trial < 2000; trial++)
        {
            var bytes = (byte[])original.Clone();
            int edits = 1 + rng.NextInt(3);
            for (int e = 0; e < edits; e++)
            {
                int at = rng.NextInt(8 + header.Length);
                bytes[at] = at < 8 ? (byte)rng.NextInt(256) : (byte)alphabet[rng.NextInt(alphabet.Length)];
            }
            if (rng.NextInt(4) == 0) bytes = bytes[..rng.NextInt(bytes.Length)];
            OnlyInvalidData(() => SafeTensorsFile.Parse(bytes, "f", requireChecksum: false), () => $"trial {trial}: {Encoding.UTF8.GetString(bytes)}");
        }
    }

    [Fact]
    public void ModelArchitecture_RandomDamage()
    {
        var model = new Sequential<float>([1, 8, 8], new Conv2D<float>(1, 2, 3), new ReLU<float>(), new MaxPool2D<float>(2, 2),
            new Flatten<float>(), new Dense<float>(18, 4), new Softmax<float>());
        var file = ModelSerializer.ToSafeTensors(model);
        string arch = file.Metadata[ModelSerializer.ArchitectureKey];
        var rng = new RandomGenerator(12);
        const string alphabet = "{}[]\",:0123456789-.truefalsnDC ";
        for (int trial = 0; trial < 1500; trial++)
        {
            var chars = arch.ToCharArray();
            int edits = 1 + rng.NextInt(3);
            for (int e = 0; e < edits; e++) chars[rng.NextInt(chars.Length)] = alphabet[rng.NextInt(alphabet.Length)];
            string damaged = new(chars);
            var copy = SafeTensorsFile.Parse(file.ToArray(), "m");
            copy.Metadata[ModelSerializer.ArchitectureKey] = damaged;
            OnlyInvalidData(() => ModelSerializer.FromSafeTensors<float>(copy), () => $"trial {trial}: {damaged}");
        }
    }

    [Fact]
    public void Idx_RandomDamage_RawAndGzip()
    {
        var raw = new byte[16 + 3 * 4 * 4];
        BinaryPrimitives.WriteInt32BigEndian(raw, IdxReader.ImagesMagic);
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(4), 3);
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(8), 4);
        BinaryPrimitives.WriteInt32BigEndian(raw.AsSpan(12), 4);
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(raw);
        var gzip = ms.ToArray();
        var rng = new RandomGenerator(13);
        for (int trial = 0; trial < 1500; trial++)
        {
            var bytes = (byte[])(trial % 2 == 0 ? raw : gzip).Clone();
            int edits = 1 + rng.NextInt(3);
            for (int e = 0; e < edits; e++) bytes[rng.NextInt(Math.Min(bytes.Length, 24))] = (byte)rng.NextInt(256);
            if (rng.NextInt(4) == 0) bytes = bytes[..rng.NextInt(bytes.Length)];
            OnlyInvalidData(() => IdxReader.Read(new MemoryStream(bytes), "fuzz", IdxReader.ImagesMagic), () => $"trial {trial}: {Convert.ToHexString(bytes)}");
        }
    }
}
