using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using NeuralNet.Modules;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace NeuralNet.Distributed;

/// <summary>How gradients are summed across ranks.</summary>
public enum GradientReduction
{
    /// <summary>Add the ranks' gradients in rank order (<see cref="Communicator.AllReduceSumOrdered{T}(Span{T})"/>: a
    /// reduce-scatter by all-to-all, then an all-gather): bit-identical on every rank and in every run. The default.</summary>
    Ordered,

    /// <summary>One <c>MPI_Allreduce</c> with <c>MPI_SUM</c>: less traffic for large models, but Open MPI picks the summation
    /// order per algorithm, so float results are only guaranteed equal to rounding and ranks are re-synchronized by
    /// the periodic weight check.</summary>
    Native,
}

/// <summary>
/// The collective steps of synchronous data-parallel SGD over a fixed list of parameters: broadcast the initial weights,
/// average the gradients of the ranks' shards, compare model definitions and weight checksums across ranks.
/// </summary>
/// <typeparam name="T">The parameter element type.</typeparam>
/// <remarks>
/// <para>Gradient averaging with unequal shards: rank r holds the mean gradient Gᵣ of its nᵣ examples of a global batch of
/// n = Σ nᵣ. The global mean gradient is G = Σᵣ (nᵣ / n)·Gᵣ; each rank scales by nᵣ / n before the sum, so a rank with an
/// empty shard contributes zeros. With full batches nᵣ / n = 1 / N.</para>
/// <para>All parameters travel in one flat buffer of <see cref="ParameterCount"/> elements, allocated once; steady-state
/// steps allocate nothing.</para>
/// </remarks>
public sealed class DataParallel<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;
    private readonly T[] _flat;
    private readonly ulong[] _checksums;

    /// <summary>Prepares the collectives for <paramref name="parameters"/>.</summary>
    /// <param name="communicator">The group of ranks.</param>
    /// <param name="parameters">The parameters, in the same order and shapes on every rank.</param>
    /// <param name="reduction">How gradients are summed.</param>
    /// <exception cref="ArgumentException">The list is empty or contains null.</exception>
    public DataParallel(Communicator communicator, IReadOnlyList<Parameter<T>> parameters, GradientReduction reduction = GradientReduction.Ordered)
    {
        ArgumentNullException.ThrowIfNull(communicator);
        ArgumentNullException.ThrowIfNull(parameters);
        if (parameters.Count == 0) throw new ArgumentException("DataParallel: the model has no parameters to synchronize.", nameof(parameters));
        _parameters = new Parameter<T>[parameters.Count];
        long total = 0;
        for (int i = 0; i < _parameters.Length; i++)
        {
            _parameters[i] = parameters[i] ?? throw new ArgumentException($"DataParallel: parameter {i} is null.", nameof(parameters));
            total += _parameters[i].Value.Length;
        }
        if (total > Array.MaxLength) throw new ArgumentException($"DataParallel: {total} parameters do not fit one buffer.", nameof(parameters));
        Communicator = communicator;
        Reduction = reduction;
        _flat = new T[total];
        _checksums = new ulong[communicator.Size];
    }

    /// <summary>The group of ranks.</summary>
    public Communicator Communicator { get; }

    /// <summary>How gradients are summed.</summary>
    public GradientReduction Reduction { get; }

    /// <summary>The total number of scalar parameters.</summary>
    public int ParameterCount => _flat.Length;

    /// <summary>The parameters, in synchronization order.</summary>
    public IReadOnlyList<Parameter<T>> Parameters => _parameters;

    /// <summary>The contiguous slice of a global batch of <paramref name="globalCount"/> examples that
    /// <paramref name="rank"/> of <paramref name="size"/> trains on.</summary>
    /// <param name="globalCount">The number of examples in the global batch.</param>
    /// <param name="rank">The rank.</param>
    /// <param name="size">The number of ranks.</param>
    /// <returns>Offset into the global batch and count; counts differ by at most one, lower ranks take the extra examples.</returns>
    /// <remarks>With q = ⌊n / N⌋ and m = n mod N: count = q + (r &lt; m ? 1 : 0), offset = r·q + min(r, m).</remarks>
    public static (int Offset, int Count) Shard(int globalCount, int rank, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(globalCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        if ((uint)rank >= (uint)size) throw new ArgumentOutOfRangeException(nameof(rank), rank, $"DataParallel.Shard: rank {rank} is outside [0, {size}).");
        int q = globalCount / size, m = globalCount % size;
        return (rank * q + Math.Min(rank, m), q + (rank < m ? 1 : 0));
    }

    /// <summary>Copies rank <paramref name="root"/>'s parameter values to every rank.</summary>
    /// <param name="root">The rank whose values win; 0 by convention.</param>
    public void BroadcastParameters(int root = 0)
    {
        Pack(values: true, T.One);
        Communicator.Broadcast<T>(_flat, root);
        Unpack(values: true);
    }

    /// <summary>Replaces every rank's gradients by the average over the global batch.</summary>
    /// <param name="localCount">nᵣ, the examples this rank's gradients are the mean of (0 when its shard is empty: its gradients are ignored).</param>
    /// <param name="globalCount">n, the examples of the global batch over all ranks.</param>
    /// <exception cref="ArgumentOutOfRangeException">The counts are negative, or <paramref name="globalCount"/> is not positive or below <paramref name="localCount"/>.</exception>
    public void AllReduceGradients(int localCount, int globalCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(localCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(globalCount, Math.Max(1, localCount));
        // The factor is rounded once to T; with equal shards it is the same constant 1/N on every rank.
        T scale = T.CreateChecked((double)localCount / globalCount);
        // An empty shard's gradients are stale from an earlier step (possibly not even finite): send zeros instead.
        if (localCount == 0) Array.Clear(_flat);
        else Pack(values: false, scale);
        if (Reduction == GradientReduction.Ordered) Communicator.AllReduceSumOrdered<T>(_flat);
        else Communicator.AllReduce<T>(_flat, ReduceOperation.Sum);
        Unpack(values: false);
    }

    /// <summary>Replaces every rank's gradients by their sum over the ranks, unscaled: the trainer has already weighted each
    /// rank's loss gradient by its share of the global batch (<see cref="NeuralNet.Training.TrainingStrategy{T}"/>).</summary>
    /// <param name="contributes">False on a rank that trained on no example of the batch: it sends zeros (its gradient
    /// buffers may hold stale values).</param>
    public void SumGradients(bool contributes)
    {
        if (contributes) Pack(values: false, T.One);
        else Array.Clear(_flat);
        if (Reduction == GradientReduction.Ordered) Communicator.AllReduceSumOrdered<T>(_flat);
        else Communicator.AllReduce<T>(_flat, ReduceOperation.Sum);
        Unpack(values: false);
    }

    /// <summary>A 64-bit checksum of the bits of every parameter value on this rank.</summary>
    /// <returns>Equal on two ranks exactly when (barring a collision) their weights are bit-identical.</returns>
    public ulong ParameterChecksum()
    {
        ulong h = 0x9E3779B97F4A7C15UL;
        foreach (var p in _parameters)
        {
            var bytes = MemoryMarshal.AsBytes(p.Value.AsSpan());
            var words = MemoryMarshal.Cast<byte, ulong>(bytes);
            foreach (ulong w in words) h = Mix(h, w);
            for (int i = words.Length * 8; i < bytes.Length; i++) h = Mix(h, bytes[i]);
        }
        return h;
    }

    /// <summary>Checks that every rank holds bit-identical weights; all ranks throw together when they do not.</summary>
    /// <param name="context">Where in training, for the message (e.g. <c>epoch 2, step 17</c>).</param>
    /// <exception cref="InvalidOperationException">Some rank's weight checksum differs from rank 0's; the message lists them.</exception>
    public void VerifyParametersIdentical(string context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!ChecksumsAgree()) ThrowDiverged(context);
    }

    /// <summary>Same as <see cref="VerifyParametersIdentical(string)"/> for a training step, without formatting a message
    /// unless the check fails (so a per-step check allocates nothing).</summary>
    /// <param name="epoch">The epoch, from 1.</param>
    /// <param name="step">The optimizer step, from 1.</param>
    /// <exception cref="InvalidOperationException">Some rank's weight checksum differs from rank 0's.</exception>
    public void VerifyParametersIdentical(int epoch, long step)
    {
        if (!ChecksumsAgree()) ThrowDiverged($"epoch {epoch}, step {step}");
    }

    private bool ChecksumsAgree()
    {
        Span<ulong> mine = [ParameterChecksum()];
        Communicator.AllGather<ulong>(mine, _checksums);
        for (int r = 1; r < _checksums.Length; r++)
            if (_checksums[r] != _checksums[0]) return false;
        return true;
    }

    private void ThrowDiverged(string context)
    {
        var lines = string.Join(", ", _checksums.Select((c, i) => $"rank {i}: {c:x16}"));
        throw new InvalidOperationException($"DataParallel: the ranks' weights diverged at {context}: {lines}.");
    }

    /// <summary>
    /// Checks that every rank runs the same model and settings: compares a SHA-256 of <paramref name="description"/> plus
    /// the parameter names and shapes across ranks. All ranks throw together on a mismatch.
    /// </summary>
    /// <param name="description">Everything that must agree: the model definition, hyper-parameters, seed, data size, …</param>
    /// <returns>The hash, as hex, for logs.</returns>
    /// <exception cref="InvalidOperationException">Some rank's hash differs from rank 0's; the message names the ranks and this rank's description.</exception>
    public string VerifySameConfiguration(string description)
    {
        ArgumentNullException.ThrowIfNull(description);
        var text = new StringBuilder(description);
        text.Append("\nparameters:");
        foreach (var p in _parameters) text.Append(' ').Append(p.Name).Append(p.Value.ShapeString);
        text.Append("\nelement type: ").Append(typeof(T).Name).Append(", reduction: ").Append(Reduction);
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()));
        var all = new byte[hash.Length * Communicator.Size];
        Communicator.AllGather<byte>(hash, all);
        string Hex(int r) => Convert.ToHexString(all, r * hash.Length, hash.Length).ToLowerInvariant()[..16];
        var differing = Enumerable.Range(1, Communicator.Size - 1)
            .Where(r => !all.AsSpan(r * hash.Length, hash.Length).SequenceEqual(all.AsSpan(0, hash.Length)))
            .ToArray();
        if (differing.Length > 0)
            throw new InvalidOperationException(
                $"DataParallel: the ranks disagree on the model definition or the training settings: rank 0 has hash {Hex(0)}, " +
                string.Join(", ", differing.Select(r => $"rank {r} has {Hex(r)}")) +
                $". Every rank must build the same model with the same settings and data. Rank {Communicator.Rank} has:\n{text}");
        return Hex(0);
    }

    /// <summary>Describes a model for <see cref="VerifySameConfiguration"/>: its type and every parameter's name and shape,
    /// and for composite models each layer in order (through <c>Layers</c>, when the module exposes it).</summary>
    /// <param name="model">The model.</param>
    /// <returns>A multi-line description.</returns>
    public static string DescribeModel(Module<T> model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var text = new StringBuilder();
        Describe(model, text, 0);
        return text.ToString();
    }

    private static void Describe(Module<T> module, StringBuilder text, int depth)
    {
        text.Append(' ', 2 * depth).Append(module.GetType().FullName).Append(" (").Append(module.Name).Append(')');
        foreach (var p in module.Parameters) text.Append(' ').Append(p.Name).Append(p.Value.ShapeString);
        text.Append('\n');
        // Sequential-like containers expose their children as a public Layers list; read it without a compile-time dependency.
        if (module.GetType().GetProperty("Layers")?.GetValue(module) is IEnumerable<Module<T>> layers)
            foreach (var layer in layers) Describe(layer, text, depth + 1);
    }

    private void Pack(bool values, T scale)
    {
        int offset = 0;
        foreach (var p in _parameters)
        {
            var source = values ? p.Value.AsSpan() : p.Gradient.AsSpan();
            var target = _flat.AsSpan(offset, source.Length);
            if (scale == T.One) source.CopyTo(target);
            else TensorPrimitives.Multiply<T>(source, scale, target);
            offset += source.Length;
        }
    }

    private void Unpack(bool values)
    {
        int offset = 0;
        foreach (var p in _parameters)
        {
            var target = values ? p.Value.AsSpan() : p.Gradient.AsSpan();
            _flat.AsSpan(offset, target.Length).CopyTo(target);
            offset += target.Length;
        }
    }

    private static ulong Mix(ulong h, ulong w)
    {
        h ^= w * 0xBF58476D1CE4E5B9UL;
        h = BitOperations.RotateLeft(h, 31);
        return h * 0x94D049BB133111EBUL;
    }
}
