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
/// <para>Layout (little-endian): magic <c>NNDCKPT\0</c>, int32 version (1), string model hash, int32 completed epochs,
/// int64 iteration, 4 × uint64 shuffle-generator state, float64 learning rate, int64 optimizer steps, the schedule state
/// (int32 count, then name/float64 pairs), float64 best monitored loss, int32 epochs without improvement, the epoch history
/// (int32 count, then 7 numbers each), then tensor groups — parameters, momentum buffers, best weights, undo snapshot —
/// each an int32 count followed by (int32 length, raw elements); finally a SHA-256 of everything before it.</para>
/// <para>Rank 0 writes it atomically (temporary file, flush to disk, rename), so a crash during a save leaves the previous
/// checkpoint intact. On resume rank 0 reads the file and broadcasts its bytes; every rank parses the same bytes.</para>
/// </remarks>
internal sealed class DistributedCheckpoint<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static ReadOnlySpan<byte> Magic => "NNDCKPT\0"u8;
    private const int Version = 1;

    public required string ModelHash { get; init; }
    public required int EpochsCompleted { get; init; }
    public required long Iteration { get; init; }
    public required ulong[] RandomState { get; init; }
    public required double LearningRate { get; init; }
    public required long OptimizerSteps { get; init; }
    public required IReadOnlyDictionary<string, double> ScheduleState { get; init; }
    public required double BestLoss { get; init; }
    public required int EpochsWithoutImprovement { get; init; }
    public required IReadOnlyList<EpochRecord> Epochs { get; init; }
    public required IReadOnlyList<T[]> Parameters { get; init; }
    public required IReadOnlyList<T[]> MomentumBuffers { get; init; }
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
            w.Write(LearningRate);
            w.Write(OptimizerSteps);
            w.Write(ScheduleState.Count);
            foreach (var (key, value) in ScheduleState.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                w.Write(key);
                w.Write(value);
            }
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
            foreach (var group in new[] { Parameters, MomentumBuffers, BestWeights, UndoWeights })
            {
                w.Write(group.Count);
                foreach (var t in group)
                {
                    w.Write(t.Length);
                    w.Write(MemoryMarshal.AsBytes(t.AsSpan()));
                }
            }
        }
        byte[] hash = SHA256.HashData(stream.GetBuffer().AsSpan(0, (int)stream.Length));
        stream.Write(hash);
        return stream.ToArray();
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
    /// <param name="shapes">The element count of each parameter.</param>
    /// <exception cref="InvalidDataException">The file is truncated, corrupted, of another version, or does not match the model.</exception>
    public static DistributedCheckpoint<T> Parse(byte[] bytes, string source, IReadOnlyList<int> shapes)
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
            double lr = r.ReadDouble();
            long steps = r.ReadInt64();
            int scheduleCount = ReadCount(r, source, "schedule entries", 1000);
            var schedule = new Dictionary<string, double>(StringComparer.Ordinal);
            for (int i = 0; i < scheduleCount; i++) schedule[r.ReadString()] = r.ReadDouble();
            double best = r.ReadDouble();
            int bad = ReadCount(r, source, "epochs without improvement", int.MaxValue);
            int records = ReadCount(r, source, "history records", 10_000_000);
            var history = new List<EpochRecord>(Math.Min(records, 4096));
            for (int i = 0; i < records; i++)
                history.Add(new EpochRecord(r.ReadInt32(), r.ReadInt32(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(), r.ReadDouble(),
                    r.ReadDouble(), TimeSpan.FromTicks(r.ReadInt64())));
            var groups = new List<T[]>[4];
            string[] names = ["parameters", "momentum buffers", "best weights", "undo weights"];
            for (int g = 0; g < 4; g++)
            {
                int count = ReadCount(r, source, names[g], shapes.Count);
                if (g == 0 && count != shapes.Count || count != 0 && count != shapes.Count)
                    throw new InvalidDataException($"Checkpoint '{source}': {names[g]} holds {count} tensors, the model has {shapes.Count} parameters.");
                groups[g] = new List<T[]>(count);
                for (int i = 0; i < count; i++)
                {
                    int length = r.ReadInt32();
                    if (length != shapes[i])
                        throw new InvalidDataException($"Checkpoint '{source}': {names[g]} tensor {i} has {length} elements, the model's parameter {i} has {shapes[i]}.");
                    int size = checked(length * Marshal.SizeOf<T>());
                    if (r.BaseStream.Length - r.BaseStream.Position < size)
                        throw new InvalidDataException($"Checkpoint '{source}': {names[g]} tensor {i} needs {size} bytes at offset {r.BaseStream.Position}, the file ends first.");
                    var data = new T[length];
                    r.BaseStream.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
                    groups[g].Add(data);
                }
            }
            if (r.BaseStream.Position != body)
                throw new InvalidDataException($"Checkpoint '{source}': {body - r.BaseStream.Position} unexpected bytes after the last tensor.");
            return new DistributedCheckpoint<T>
            {
                ModelHash = modelHash, EpochsCompleted = epochs, Iteration = iteration, RandomState = state, LearningRate = lr,
                OptimizerSteps = steps, ScheduleState = schedule, BestLoss = best, EpochsWithoutImprovement = bad, Epochs = history,
                Parameters = groups[0], MomentumBuffers = groups[1], BestWeights = groups[2], UndoWeights = groups[3],
            };
        }
        catch (EndOfStreamException)
        {
            throw new InvalidDataException($"Checkpoint '{source}': the file ends in the middle of a record.");
        }
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
