using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NeuralNet.Training;

namespace NeuralNet.Distributed;

/// <summary>
/// The training state a <see cref="DistributedTrainer{T}"/> checkpoint holds, and its versioned binary file format.
/// </summary>
/// <remarks>
/// <para>Layout (little-endian): magic <c>NNDCKPT\0</c>, int32 version (2), string model hash, int32 completed epochs,
/// int64 iteration, 4 × uint64 shuffle-generator state, string optimizer kind, the optimizer's numbers (settings, step count,
/// each group's learning rate: int32 count, then name/float64 pairs), the schedule state (same layout), float64 best monitored
/// loss, int32 epochs without improvement, the epoch history (int32 count, then 8 numbers each), then tensor groups —
/// parameters, best weights, undo snapshot — each an int32 count followed by (int32 length, raw elements), then the optimizer's
/// named state tensors (int32 count, then each: string name and a tensor group in the optimizer's parameter order); finally a
/// SHA-256 of everything before it.</para>
/// <para>Rank 0 writes it atomically (temporary file, flush to disk, rename), so a crash during a save leaves the previous
/// checkpoint intact. On resume rank 0 reads the file and broadcasts its bytes; every rank parses the same bytes.</para>
/// </remarks>
internal sealed class DistributedCheckpoint<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static ReadOnlySpan<byte> Magic => "NNDCKPT\0"u8;
    private const int Version = 2;

    public required string ModelHash { get; init; }
    public required int EpochsCompleted { get; init; }
    public required long Iteration { get; init; }
    public required ulong[] RandomState { get; init; }
    public required string OptimizerKind { get; init; }
    public required IReadOnlyDictionary<string, double> OptimizerScalars { get; init; }
    public required IReadOnlyDictionary<string, double> ScheduleState { get; init; }
    public required double BestLoss { get; init; }
    public required int EpochsWithoutImprovement { get; init; }
    public required IReadOnlyList<EpochRecord> Epochs { get; init; }
    public required IReadOnlyList<T[]> Parameters { get; init; }
    public required IReadOnlyList<(string Name, IReadOnlyList<T[]> Tensors)> OptimizerTensors { get; init; }
    public required IReadOnlyList<T[]> BestWeights { get; init; }
    public required IReadOnlyList<T[]> UndoWeights { get; init; }

    public byte[] ToBytes()
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(Magic);
            w.Write(Version);
            w.Write(ModelHash);
            w.Write(EpochsCompleted);
            w.Write(Iteration);
            foreach (ulong s in RandomState) w.Write(s);
            w.Write(OptimizerKind);
            WriteScalars(w, OptimizerScalars);
            WriteScalars(w, ScheduleState);
            w.Write(BestLoss);
            w.Write(EpochsWithoutImprovement);
            w.Write(Epochs.Count);
            foreach (var e in Epochs)
            {
                w.Write(e.Epoch);
                w.Write(e.Iterations);
                w.Write(e.TrainingLoss);
                w.Write(e.TrainingAccuracy);
                w.Write(e.ValidationLoss);
                w.Write(e.ValidationAccuracy);
                w.Write(e.LearningRate);
                w.Write(e.Elapsed.Ticks);
            }
            foreach (var group in new[] { Parameters, BestWeights, UndoWeights }) WriteGroup(w, group);
            w.Write(OptimizerTensors.Count);
            foreach (var (name, tensors) in OptimizerTensors)
            {
                w.Write(name);
                WriteGroup(w, tensors);
            }
        }
        byte[] hash = SHA256.HashData(stream.GetBuffer().AsSpan(0, (int)stream.Length));
        stream.Write(hash);
        return stream.ToArray();
    }

    private static void WriteScalars(BinaryWriter w, IReadOnlyDictionary<string, double> scalars)
    {
        w.Write(scalars.Count);
        foreach (var (key, value) in scalars.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            w.Write(key);
            w.Write(value);
        }
    }

    private static void WriteGroup(BinaryWriter w, IReadOnlyList<T[]> group)
    {
        w.Write(group.Count);
        foreach (var t in group)
        {
            w.Write(t.Length);
            w.Write(MemoryMarshal.AsBytes(t.AsSpan()));
        }
    }

    /// <summary>Writes the checkpoint so that a crash at any moment leaves either the old or the new file complete.</summary>
    public void Save(string path)
    {
        string full = Path.GetFullPath(path);
        string? directory = Path.GetDirectoryName(full);
        if (!string.IsNullOrEmpty(directory)) Directory.CreateDirectory(directory);
        string temporary = full + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(ToBytes());
            file.Flush(flushToDisk: true);
        }
        File.Move(temporary, full, overwrite: true);
    }

    /// <summary>Parses checkpoint bytes, checking the format, the checksum and every size against <paramref name="shapes"/>.</summary>
    /// <param name="bytes">The file's bytes.</param>
    /// <param name="source">The file name, for messages.</param>
    /// <param name="shapes">The element count of each parameter, in model order.</param>
    /// <param name="optimizerShapes">The element count of each of the optimizer's parameters, in the optimizer's order.</param>
    /// <exception cref="InvalidDataException">The file is truncated, corrupted, of another version, or does not match the model.</exception>
    public static DistributedCheckpoint<T> Parse(byte[] bytes, string source, IReadOnlyList<int> shapes, IReadOnlyList<int> optimizerShapes)
    {
        const int hashLength = 32;
        if (bytes.Length < Magic.Length + 4 + hashLength || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
            throw new InvalidDataException($"Checkpoint '{source}': not a NeuralNet.Distributed checkpoint (bad magic or {bytes.Length} bytes is too short).");
        int body = bytes.Length - hashLength;
        if (!SHA256.HashData(bytes.AsSpan(0, body)).AsSpan().SequenceEqual(bytes.AsSpan(body)))
            throw new InvalidDataException($"Checkpoint '{source}': the SHA-256 checksum does not match; the file is corrupted or truncated.");
        using var r = new BinaryReader(new MemoryStream(bytes, 0, body, writable: false), Encoding.UTF8);
        try
        {
            r.ReadBytes(Magic.Length);
            int version = r.ReadInt32();
            if (version != Version)
                throw new InvalidDataException($"Checkpoint '{source}': version {version} is not supported (expected {Version}).");
            string modelHash = r.ReadString();
            int epochs = ReadCount(r, source, "completed epochs", int.MaxValue);
            long iteration = r.ReadInt64();
            var state = new ulong[4];
            for (int i = 0; i < 4; i++) state[i] = r.ReadUInt64();
            string optimizerKind = r.ReadString();
            var optimizerScalars = ReadScalars(r, source, "optimizer entries");
            var schedule = ReadScalars(r, source, "schedule entries");
            double best = r.ReadDouble();
            int bad = ReadCount(r, source, "epochs without improvement", int.MaxValue);
            int records = ReadCount(r, source, "history records", 10_000_000);
            var history = new List<EpochRecord>(Math.Min(records, 4096));
            for (int i = 0; i < records; i++)
                history.Add(new EpochRecord(r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(),
                    r.ReadDouble(), TimeSpan.FromTicks(r.ReadInt64())));
            string[] names = ["parameters", "best weights", "undo weights"];
            var groups = new List<T[]>[3];
            for (int g = 0; g < 3; g++) groups[g] = ReadGroup(r, source, names[g], shapes, required: g == 0);
            int stateCount = ReadCount(r, source, "optimizer state names", 1000);
            var optimizerTensors = new List<(string, IReadOnlyList<T[]>)>(stateCount);
            for (int k = 0; k < stateCount; k++)
            {
                string name = r.ReadString();
                optimizerTensors.Add((name, ReadGroup(r, source, $"optimizer state '{name}'", optimizerShapes, required: true)));
            }
            if (r.BaseStream.Position != body)
                throw new InvalidDataException($"Checkpoint '{source}': {body - r.BaseStream.Position} unexpected bytes after the last tensor.");
            return new DistributedCheckpoint<T>
            {
                ModelHash = modelHash, EpochsCompleted = epochs, Iteration = iteration, RandomState = state, OptimizerKind = optimizerKind,
                OptimizerScalars = optimizerScalars, ScheduleState = schedule, BestLoss = best, EpochsWithoutImprovement = bad, Epochs = history,
                Parameters = groups[0], BestWeights = groups[1], UndoWeights = groups[2], OptimizerTensors = optimizerTensors,
            };
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"Checkpoint '{source}': the file ends in the middle of a record.");
        }
    }

    private static Dictionary<string, double> ReadScalars(BinaryReader r, string source, string what)
    {
        int count = ReadCount(r, source, what, 10_000);
        var scalars = new Dictionary<string, double>(StringComparer.Ordinal);
        for (int i = 0; i < count; i++) scalars[r.ReadString()] = r.ReadDouble();
        return scalars;
    }

    /// <summary>A tensor group: empty (unless <paramref name="required"/>) or one tensor per entry of <paramref name="shapes"/>.</summary>
    private static List<T[]> ReadGroup(BinaryReader r, string source, string what, IReadOnlyList<int> shapes, bool required)
    {
        int count = ReadCount(r, source, what, shapes.Count);
        if (required && count != shapes.Count || count != 0 && count != shapes.Count)
            throw new InvalidDataException($"Checkpoint '{source}': {what} holds {count} tensors, expected {shapes.Count}.");
        var group = new List<T[]>(count);
        for (int i = 0; i < count; i++)
        {
            int length = r.ReadInt32();
            if (length != shapes[i])
                throw new InvalidDataException($"Checkpoint '{source}': {what} tensor {i} has {length} elements, the parameter needs {shapes[i]}.");
            int size = checked(length * Marshal.SizeOf<T>());
            if (r.BaseStream.Length - r.BaseStream.Position < size)
                throw new InvalidDataException($"Checkpoint '{source}': {what} tensor {i} needs {size} bytes at offset {r.BaseStream.Position}, the file ends first.");
            var data = new T[length];
            r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            group.Add(data);
        }
        return group;
    }

    private static int ReadCount(BinaryReader r, string source, string what, int max)
    {
        long at = r.BaseStream.Position;
        int value = r.ReadInt32();
        if (value < 0 || value > max)
            throw new InvalidDataException($"Checkpoint '{source}': {what} at offset {at} is {value}, expected 0 to {max}.");
        return value;
    }
}
