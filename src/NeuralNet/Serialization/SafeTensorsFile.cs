using System.Buffers.Binary;
using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace NeuralNet.Serialization;

/// <summary>
/// A set of named tensors plus string metadata in the safetensors format, with a SHA-256 checksum, saved atomically.
/// </summary>
/// <remarks>
/// <para>Layout (safetensors, https://github.com/huggingface/safetensors): an 8-byte little-endian unsigned header
/// length <c>N</c>; <c>N</c> bytes of UTF-8 JSON
/// <c>{"name": {"dtype": "F32", "shape": [64, 784], "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value"}}</c>
/// padded with spaces so the data starts at a multiple of 8; then the raw little-endian tensor bytes. Offsets are
/// relative to the start of the data; the tensors cover it without holes or overlaps.</para>
/// <para>Checksum: <c>__metadata__["neuralnet.sha256"]</c> holds the lowercase hex SHA-256 of the whole file in which
/// those 64 hex digits are replaced by the character <c>'0'</c>. It therefore covers the header (shapes, metadata,
/// architecture) as well as every tensor byte, and any other safetensors reader can still open the file.</para>
/// <para>Loading validates everything against the actual file length before allocating: the header length, the JSON,
/// every dtype, shape and offset pair, the coverage of the data, and the checksum. Any violation raises
/// <see cref="InvalidDataException"/> naming the file and the byte offset or tensor.</para>
/// </remarks>
public sealed class SafeTensorsFile
{
    /// <summary>The metadata key that holds the SHA-256 checksum.</summary>
    public const string ChecksumKey = "neuralnet.sha256";

    /// <summary>The largest header accepted when loading, in bytes (100 MB, as in the reference safetensors reader).</summary>
    public const long MaxHeaderLength = 100_000_000;

    private const string MetadataKey = "__metadata__";
    private const int DigestHexLength = 64;

    private readonly List<SafeTensorEntry> _tensors = [];
    private readonly Dictionary<string, SafeTensorEntry> _byName = new(StringComparer.Ordinal);

    /// <summary>Creates an empty file description.</summary>
    public SafeTensorsFile() { }

    /// <summary>Free-form string metadata stored in <c>__metadata__</c>. The checksum key is managed by save and load and never appears here.</summary>
    public Dictionary<string, string> Metadata { get; } = new(StringComparer.Ordinal);

    /// <summary>The tensors in file order (insertion order when built in memory, data-offset order when loaded).</summary>
    public IReadOnlyList<SafeTensorEntry> Tensors => _tensors;

    /// <summary>The path this file was loaded from, or the source name given to <see cref="Parse"/>; null for a new file.</summary>
    public string? Source { get; private set; }

    /// <summary>True when a tensor named <paramref name="name"/> exists.</summary>
    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Gets the tensor named <paramref name="name"/>, or null.</summary>
    public SafeTensorEntry? Find(string name) => _byName.GetValueOrDefault(name);

    /// <summary>Gets the tensor named <paramref name="name"/>.</summary>
    /// <exception cref="InvalidDataException">There is no such tensor; the message names the file.</exception>
    public SafeTensorEntry GetRequired(string name)
    {
        if (_byName.TryGetValue(name, out var entry)) return entry;
        throw new InvalidDataException($"{Source ?? "safetensors"}: missing tensor '{name}'.");
    }

    /// <summary>Adds a copy of a floating-point tensor, stored as F32 for <see cref="float"/> and F64 for <see cref="double"/>.</summary>
    /// <param name="name">A unique non-empty name; it may not be <c>__metadata__</c>.</param>
    /// <param name="tensor">The tensor to copy.</param>
    /// <exception cref="ArgumentException">The name is empty, reserved or already used, or <typeparamref name="T"/> is neither float nor double.</exception>
    public void Add<T>(string name, NdArray<T> tensor) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tensor);
        SafeTensorDType dtype = typeof(T) == typeof(float) ? SafeTensorDType.F32
            : typeof(T) == typeof(double) ? SafeTensorDType.F64
            : throw new ArgumentException($"SafeTensorsFile: element type {typeof(T).Name} is not supported; use float or double.", nameof(tensor));
        AddEntry(new SafeTensorEntry(name, dtype, tensor.ShapeArray(), (T[])tensor.Data.Clone()));
    }

    /// <summary>Adds a copy of 64-bit integers as an I64 tensor of the given shape.</summary>
    /// <param name="name">A unique non-empty name.</param>
    /// <param name="values">The values, row-major.</param>
    /// <param name="shape">The shape; defaults to one dimension of <c>values.Length</c>.</param>
    /// <exception cref="ArgumentException">The name is invalid or the shape does not match the value count.</exception>
    public void Add(string name, ReadOnlySpan<long> values, params int[]? shape)
    {
        int[] s = CheckIntegerShape(name, values.Length, shape);
        AddEntry(new SafeTensorEntry(name, SafeTensorDType.I64, s, values.ToArray()));
    }

    /// <summary>Adds a rank-0 (shape <c>[]</c>) I64 tensor holding one value, the layout of PyTorch's integer scalars such as
    /// a batch normalization's <c>num_batches_tracked</c>.</summary>
    /// <param name="name">A unique non-empty name.</param>
    /// <param name="value">The value.</param>
    /// <exception cref="ArgumentException">The name is empty, reserved or already used.</exception>
    public void AddScalar(string name, long value) => AddEntry(new SafeTensorEntry(name, SafeTensorDType.I64, [], new[] { value }));

    private static int[] CheckIntegerShape(string name, int length, int[]? shape)
    {
        int[] s = shape is null || shape.Length == 0 ? [length] : (int[])shape.Clone();
        long count = 1;
        foreach (int d in s)
        {
            if (d < 0) throw new ArgumentException($"SafeTensorsFile: tensor '{name}' has a negative dimension in {NdArray<float>.ShapeToString(s)}.", nameof(shape));
            count *= d;
        }
        if (count != length)
            throw new ArgumentException($"SafeTensorsFile: tensor '{name}' has {length} values but shape {NdArray<float>.ShapeToString(s)} needs {count}.", "values");
        return s;
    }

    /// <summary>Adds a copy of unsigned 64-bit integers (e.g. a <see cref="RandomGenerator.GetState"/>) as a U64 tensor of the given shape.</summary>
    /// <param name="name">A unique non-empty name.</param>
    /// <param name="values">The values, row-major.</param>
    /// <param name="shape">The shape; defaults to one dimension of <c>values.Length</c>.</param>
    /// <exception cref="ArgumentException">The name is invalid or the shape does not match the value count.</exception>
    public void Add(string name, ReadOnlySpan<ulong> values, params int[]? shape)
    {
        int[] s = CheckIntegerShape(name, values.Length, shape);
        AddEntry(new SafeTensorEntry(name, SafeTensorDType.U64, s, values.ToArray()));
    }

    /// <summary>Removes the tensor named <paramref name="name"/>; returns false when there is none.</summary>
    public bool Remove(string name)
    {
        if (!_byName.Remove(name, out var entry)) return false;
        _tensors.Remove(entry);
        return true;
    }

    /// <summary>Saves atomically to <paramref name="path"/> (see <see cref="AtomicFile"/>).</summary>
    /// <param name="path">The target file; its directory must exist.</param>
    public void Save(string path)
    {
        byte[] bytes = ToArray();
        AtomicFile.Write(path, s => s.Write(bytes, 0, bytes.Length));
    }

    /// <summary>Serializes to the safetensors byte layout, checksum included.</summary>
    /// <exception cref="ArgumentException">A metadata key is empty or reserved.</exception>
    public byte[] ToArray()
    {
        long dataLength = 0;
        var offsets = new long[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            offsets[i] = dataLength;
            dataLength += (long)_tensors[i].ElementCount * SafeTensorEntry.ElementSize(_tensors[i].DType);
        }

        var json = new MemoryStream();
        using (var w = new Utf8JsonWriter(json))
        {
            w.WriteStartObject();
            w.WriteStartObject(MetadataKey);
            foreach (var (key, value) in Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (string.IsNullOrEmpty(key) || key == ChecksumKey)
                    throw new ArgumentException($"SafeTensorsFile: metadata key '{key}' is empty or reserved.", nameof(Metadata));
                w.WriteString(key, value ?? "");
            }
            // Placeholder of the digest's exact length, so filling it in later moves no offset.
            w.WriteString(ChecksumKey, new string('0', DigestHexLength));
            w.WriteEndObject();
            for (int i = 0; i < _tensors.Count; i++)
            {
                var t = _tensors[i];
                w.WriteStartObject(t.Name);
                w.WriteString("dtype", t.DType.ToString());
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offsets[i]);
                w.WriteNumberValue(offsets[i] + (long)t.ElementCount * SafeTensorEntry.ElementSize(t.DType));
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndObject();
        }

        int headerLength = (int)json.Length;
        int padded = (headerLength + 8 + 7) / 8 * 8 - 8;
        long total = 8L + padded + dataLength;
        if (total > Array.MaxLength)
            throw new InvalidOperationException($"SafeTensorsFile: {total} bytes exceed the largest array; split the tensors over several files.");
        var bytes = new byte[total];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)padded);
        json.GetBuffer().AsSpan(0, headerLength).CopyTo(bytes.AsSpan(8));
        bytes.AsSpan(8 + headerLength, padded - headerLength).Fill((byte)' ');

        var data = bytes.AsSpan(8 + padded);
        for (int i = 0; i < _tensors.Count; i++)
            WriteLittleEndian(_tensors[i], data[(int)offsets[i]..]);

        int digestAt = FindDigest(bytes.AsSpan(8, padded), Encoding.ASCII.GetBytes(new string('0', DigestHexLength)), out _);
        byte[] hash = SHA256.HashData(bytes);
        Encoding.ASCII.GetBytes(Convert.ToHexStringLower(hash)).CopyTo(bytes.AsSpan(8 + digestAt));
        return bytes;
    }

    /// <summary>Loads and validates a file.</summary>
    /// <param name="path">The file to read.</param>
    /// <param name="requireChecksum">When true (the default) a file without a <see cref="ChecksumKey"/> entry is rejected;
    /// pass false to read safetensors files written by other tools. A present checksum is always verified.</param>
    /// <remarks>The 8-byte header length and the JSON header are read and validated against the file's length first;
    /// the tensor data is read only once the header has declared exactly the bytes the file holds, so a file that is not
    /// safetensors fails after reading a few bytes, whatever its size.</remarks>
    /// <exception cref="InvalidDataException">The content is malformed, truncated or fails its checksum; the message names the file and the offset or tensor.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static SafeTensorsFile Load(string path, bool requireChecksum = true)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
            throw new FileNotFoundException($"SafeTensorsFile: '{path}' does not exist.", path);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        long length = stream.Length;
        Span<byte> prefix = stackalloc byte[8];
        if (length >= 8) stream.ReadExactly(prefix);
        int n = CheckHeaderLength(length, prefix, path);
        var header = new byte[n];
        stream.ReadExactly(header);
        var parsed = ParseHeader(header, path, length - 8 - n, requireChecksum);
        if (length > Array.MaxLength)
            throw Bad(path, $"the file is {length} bytes, more than the {Array.MaxLength} this reader supports.");
        var bytes = new byte[length];
        prefix.CopyTo(bytes);
        header.CopyTo(bytes, 8);
        stream.ReadExactly(bytes.AsSpan(8 + n));
        return Complete(parsed, bytes, n, path);
    }

    /// <summary>Parses and validates the bytes of a file.</summary>
    /// <param name="bytes">The complete content.</param>
    /// <param name="source">A name for error messages, usually the path.</param>
    /// <param name="requireChecksum">See <see cref="Load"/>.</param>
    /// <exception cref="InvalidDataException">The content is malformed; the message names <paramref name="source"/> and the offset or tensor.</exception>
    public static SafeTensorsFile Parse(byte[] bytes, string source, bool requireChecksum = true)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ArgumentNullException.ThrowIfNull(source);
        int n = CheckHeaderLength(bytes.Length, bytes.AsSpan(0, Math.Min(8, bytes.Length)), source);
        var parsed = ParseHeader(bytes.AsMemory(8, n), source, bytes.Length - 8L - n, requireChecksum);
        return Complete(parsed, bytes, n, source);
    }

    private sealed record ParsedHeader(SafeTensorsFile File, string? Digest, List<(long Begin, long End, string Name, SafeTensorDType DType, int[] Shape, int Count)> Spans);

    /// <summary>Validates the 8-byte header length against the file length and returns it.</summary>
    private static int CheckHeaderLength(long fileLength, ReadOnlySpan<byte> prefix, string source)
    {
        if (fileLength < 8)
            throw Bad(source, $"the file is {fileLength} bytes, shorter than the 8-byte header length at offset 0.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > (ulong)(fileLength - 8))
            throw Bad(source, $"the header length at offset 0 claims {headerLength} bytes but only {fileLength - 8} follow (truncated file or bad header length).");
        if (headerLength > MaxHeaderLength)
            throw Bad(source, $"the header length at offset 0 claims {headerLength} bytes, more than the {MaxHeaderLength} allowed.");
        if (headerLength < 2)
            throw Bad(source, $"the header length at offset 0 is {headerLength}; a JSON object needs at least 2 bytes.");
        return (int)headerLength;
    }

    /// <summary>Validates the JSON header against the data length (entries, offsets, coverage) without touching the data.</summary>
    private static ParsedHeader ParseHeader(ReadOnlyMemory<byte> header, string source, long dataLength, bool requireChecksum)
    {
        int n = header.Length;
        var file = new SafeTensorsFile { Source = source };
        string? digest = null;
        var spans = new List<(long Begin, long End, string Name, SafeTensorDType DType, int[] Shape, int Count)>();
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header, new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw Bad(source, $"the JSON header (bytes 8 to {8 + n}) is malformed at header line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw Bad(source, $"the JSON header at offset 8 is a {doc.RootElement.ValueKind}, not an object.");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw Bad(source, $"the header names '{prop.Name}' twice.");
                if (prop.Name == MetadataKey)
                {
                    if (prop.Value.ValueKind != JsonValueKind.Object)
                        throw Bad(source, $"'{MetadataKey}' is a {prop.Value.ValueKind}, not an object of strings.");
                    foreach (var m in prop.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw Bad(source, $"metadata '{m.Name}' is a {m.Value.ValueKind}, not a string.");
                        if (m.Name == ChecksumKey) digest = m.Value.GetString();
                        else file.Metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                var (dtype, shape, count, begin, end) = ParseEntry(source, prop.Name, prop.Value, dataLength);
                spans.Add((begin, end, prop.Name, dtype, shape, count));
            }
        }

        // Every data byte must belong to exactly one tensor, as the reference reader requires.
        spans.Sort((a, b) => a.Begin.CompareTo(b.Begin));
        long expected = 0;
        foreach (var (begin, end, name, _, _, _) in spans)
        {
            if (begin != expected)
                throw Bad(source, begin < expected
                    ? $"tensor '{name}' (data bytes {begin} to {end}) overlaps the previous tensor, which ends at {expected}."
                    : $"data bytes {expected} to {begin} (file offset {8 + n + expected}) belong to no tensor, before '{name}'.");
            expected = end;
        }
        if (expected != dataLength)
            throw Bad(source, $"the tensors cover {expected} data bytes but the file has {dataLength} after the header (file offset {8 + n + expected}); it is truncated or has trailing bytes.");
        if (digest is null && requireChecksum)
            throw Bad(source, $"the header has no '{ChecksumKey}' checksum in '{MetadataKey}'.");
        return new ParsedHeader(file, digest, spans);
    }

    /// <summary>Verifies the checksum over the complete bytes and reads the tensors, in data-offset order.</summary>
    private static SafeTensorsFile Complete(ParsedHeader parsed, byte[] bytes, int headerLength, string source)
    {
        if (parsed.Digest is not null)
            VerifyChecksum(bytes, headerLength, parsed.Digest, source);
        var file = parsed.File;
        foreach (var (begin, end, name, dtype, shape, count) in parsed.Spans)
        {
            var entry = new SafeTensorEntry(name, dtype, shape, ReadLittleEndian(dtype, count, bytes.AsSpan((int)(8 + headerLength + begin), (int)(end - begin))));
            file._tensors.Add(entry);
            file._byName[name] = entry;
        }
        return file;
    }

    private static void VerifyChecksum(byte[] bytes, int headerLength, string digest, string source)
    {
        if (digest.Length != DigestHexLength || !digest.All(char.IsAsciiHexDigitLower))
            throw Bad(source, $"the checksum '{digest}' is not {DigestHexLength} lowercase hex digits.");
        var digestBytes = Encoding.ASCII.GetBytes(digest);
        int at = FindDigest(bytes.AsSpan(8, headerLength), digestBytes, out int occurrences);
        if (occurrences != 1)
            throw Bad(source, $"the checksum text occurs {occurrences} times in the header; expected once.");
        // Hash with the digest blanked exactly as the writer did, then restore the caller's bytes.
        var slot = bytes.AsSpan(8 + at, DigestHexLength);
        slot.Fill((byte)'0');
        string actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        digestBytes.CopyTo(slot);
        if (actual != digest)
            throw Bad(source, $"checksum mismatch: the header records SHA-256 {digest} but the content hashes to {actual}; the file is corrupted.");
    }

    private static int FindDigest(ReadOnlySpan<byte> header, ReadOnlySpan<byte> digest, out int occurrences)
    {
        occurrences = 0;
        int first = -1, from = 0;
        while (from <= header.Length - digest.Length)
        {
            int i = header[from..].IndexOf(digest);
            if (i < 0) break;
            if (first < 0) first = from + i;
            occurrences++;
            from += i + 1;
        }
        return first;
    }

    private static (SafeTensorDType, int[], int, long, long) ParseEntry(string source, string name, JsonElement e, long dataLength)
    {
        if (name.Length == 0)
            throw Bad(source, "a tensor has an empty name.");
        if (e.ValueKind != JsonValueKind.Object)
            throw Bad(source, $"tensor '{name}' is described by a {e.ValueKind}, not an object.");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw Bad(source, $"tensor '{name}' has no string 'dtype'.");
        SafeTensorDType dtype = dt.GetString() switch
        {
            "F32" => SafeTensorDType.F32,
            "F64" => SafeTensorDType.F64,
            "I64" => SafeTensorDType.I64,
            "U64" => SafeTensorDType.U64,
            var other => throw Bad(source, $"tensor '{name}' has dtype '{other}'; supported are F32, F64, I64 and U64."),
        };
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw Bad(source, $"tensor '{name}' has no 'shape' array.");
        if (sh.GetArrayLength() > 32)
            throw Bad(source, $"tensor '{name}' has {sh.GetArrayLength()} dimensions; at most 32 are supported.");
        var shape = new int[sh.GetArrayLength()];
        long count = 1;
        int k = 0;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt32(out int v) || v < 0)
                throw Bad(source, $"tensor '{name}' has shape entry {k} = {d.GetRawText()}, not a non-negative 32-bit integer.");
            shape[k++] = v;
            count *= v;
            // Bounded by the real data length before any allocation, so a hostile shape cannot trigger one.
            if (count > dataLength)
                throw Bad(source, $"tensor '{name}' claims shape {sh.GetRawText()}, more elements than the {dataLength} data bytes in the file hold.");
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad(source, $"tensor '{name}' has no 'data_offsets' pair.");
        long begin = ReadOffset(source, name, off[0]), end = ReadOffset(source, name, off[1]);
        if (end < begin || end > dataLength)
            throw Bad(source, $"tensor '{name}' has data_offsets [{begin}, {end}] outside the {dataLength} data bytes of the file.");
        long bytesNeeded = count * SafeTensorEntry.ElementSize(dtype);
        if (end - begin != bytesNeeded)
            throw Bad(source, $"tensor '{name}' of dtype {dtype} and shape {sh.GetRawText()} needs {bytesNeeded} bytes but data_offsets [{begin}, {end}] span {end - begin}.");
        foreach (var extra in e.EnumerateObject())
            if (extra.Name is not ("dtype" or "shape" or "data_offsets"))
                throw Bad(source, $"tensor '{name}' has an unknown field '{extra.Name}'.");
        return (dtype, shape, (int)count, begin, end);
    }

    private static long ReadOffset(string source, string name, JsonElement e)
    {
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v) || v < 0)
            throw Bad(source, $"tensor '{name}' has data offset {e.GetRawText()}, not a non-negative integer.");
        return v;
    }

    private static Array ReadLittleEndian(SafeTensorDType dtype, int count, ReadOnlySpan<byte> src)
    {
        switch (dtype)
        {
            case SafeTensorDType.F32:
                var f = new float[count];
                src.CopyTo(MemoryMarshal.AsBytes(f.AsSpan()));
                if (!BitConverter.IsLittleEndian)
                    for (int i = 0; i < count; i++) f[i] = BinaryPrimitives.ReadSingleLittleEndian(src[(4 * i)..]);
                return f;
            case SafeTensorDType.F64:
                var d = new double[count];
                src.CopyTo(MemoryMarshal.AsBytes(d.AsSpan()));
                if (!BitConverter.IsLittleEndian)
                    for (int i = 0; i < count; i++) d[i] = BinaryPrimitives.ReadDoubleLittleEndian(src[(8 * i)..]);
                return d;
            case SafeTensorDType.U64:
                var u = new ulong[count];
                src.CopyTo(MemoryMarshal.AsBytes(u.AsSpan()));
                if (!BitConverter.IsLittleEndian)
                    for (int i = 0; i < count; i++) u[i] = BinaryPrimitives.ReadUInt64LittleEndian(src[(8 * i)..]);
                return u;
            default:
                var l = new long[count];
                src.CopyTo(MemoryMarshal.AsBytes(l.AsSpan()));
                if (!BitConverter.IsLittleEndian)
                    for (int i = 0; i < count; i++) l[i] = BinaryPrimitives.ReadInt64LittleEndian(src[(8 * i)..]);
                return l;
        }
    }

    private static void WriteLittleEndian(SafeTensorEntry t, Span<byte> dst)
    {
        if (BitConverter.IsLittleEndian)
        {
            ReadOnlySpan<byte> raw = t.Data switch
            {
                float[] f => MemoryMarshal.AsBytes(f.AsSpan()),
                double[] d => MemoryMarshal.AsBytes(d.AsSpan()),
                ulong[] u => MemoryMarshal.AsBytes(u.AsSpan()),
                _ => MemoryMarshal.AsBytes(((long[])t.Data).AsSpan()),
            };
            raw.CopyTo(dst);
            return;
        }
        switch (t.Data)
        {
            case float[] f: for (int i = 0; i < f.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(dst[(4 * i)..], f[i]); break;
            case double[] d: for (int i = 0; i < d.Length; i++) BinaryPrimitives.WriteDoubleLittleEndian(dst[(8 * i)..], d[i]); break;
            case ulong[] u: for (int i = 0; i < u.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(dst[(8 * i)..], u[i]); break;
            default: var l = (long[])t.Data; for (int i = 0; i < l.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(dst[(8 * i)..], l[i]); break;
        }
    }

    private void AddEntry(SafeTensorEntry entry)
    {
        if (string.IsNullOrEmpty(entry.Name) || entry.Name == MetadataKey)
            throw new ArgumentException($"SafeTensorsFile: tensor name '{entry.Name}' is empty or reserved.", "name");
        if (!_byName.TryAdd(entry.Name, entry))
            throw new ArgumentException($"SafeTensorsFile: a tensor named '{entry.Name}' already exists.", "name");
        _tensors.Add(entry);
    }

    private static InvalidDataException Bad(string source, string detail, Exception? inner = null)
        => new($"{source}: {detail}", inner);

    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"SafeTensorsFile({_tensors.Count} tensors, {Metadata.Count} metadata entries)");
}
