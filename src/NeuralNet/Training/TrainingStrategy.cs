using System.Numerics;
using NeuralNet.Serialization;

namespace NeuralNet.Training;

/// <summary>
/// How a <see cref="Trainer{T}"/> spreads its work over processes: the seam through which data parallelism plugs into the one
/// training loop, like Keras's distribution strategies or PyTorch's DistributedDataParallel. The default,
/// <see cref="SingleProcess"/>, does nothing, so a single process trains exactly as without a strategy.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Global-batch semantics: <see cref="TrainerOptions.BatchSize"/> is the batch B of ONE rank. With
/// <see cref="WorldSize"/> = N ranks, every step trains on a global batch of N·B examples (fewer at the end of an epoch);
/// every rank draws the same permutation from the same seeded generator and trains on its slice (<see cref="Shard"/>) of
/// each global batch, so N ranks with batch B see the same examples in the same order as one process with batch N·B.
/// Each rank scales its loss gradient by nᵣ/n (its slice of the global batch), so the sum of the ranks' gradients that
/// <see cref="ReduceGradients"/> forms is the gradient of the global-batch mean loss.</para>
/// <para>The trainer calls the hooks at fixed points, on every rank in the same order; every hook that communicates is a
/// collective that all ranks must reach. Losses, correct counts and metrics are reduced before schedules, early stopping,
/// callbacks and the history see them, so every rank takes the same decisions. Only <see cref="WritesFiles"/> ranks write
/// checkpoints (<see cref="CheckpointCallback{T}"/>) and other outputs.</para>
/// <para>Gradient reduction seam: the trainer calls <see cref="BeginBackward"/> before the backward pass, the model calls
/// <see cref="LayerBackwardCompleted"/> after each layer's backward when a strategy wires it to
/// <see cref="Modules.Sequential{T}.LayerBackwardCompleted"/> (last layer first), and the trainer calls
/// <see cref="ReduceGradients"/> once after the whole backward pass; when it returns, every rank must hold the same,
/// reduced gradients. A rank whose slice of a global batch is empty runs no backward pass (no layer callbacks) but still
/// calls <see cref="BeginBackward"/> and <see cref="ReduceGradients"/> with a local count of 0, after zeroing its gradients.</para>
/// </remarks>
public abstract class TrainingStrategy<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>One process: no slicing, no communication. The default of every trainer.</summary>
    public static TrainingStrategy<T> SingleProcess { get; } = new SingleProcessStrategy();

    /// <summary>This process's rank, in [0, <see cref="WorldSize"/>).</summary>
    public abstract int Rank { get; }

    /// <summary>The number of ranks that train together.</summary>
    public abstract int WorldSize { get; }

    /// <summary>True on the one rank (0) that writes checkpoints and other files.</summary>
    public bool WritesFiles => Rank == 0;

    /// <summary>The slice of a global batch of <paramref name="globalCount"/> examples this rank trains on: contiguous, the
    /// counts of the ranks differ by at most one, lower ranks take the extra examples.</summary>
    /// <param name="globalCount">The examples of the global batch.</param>
    /// <returns>The offset into the global batch and the count (possibly 0).</returns>
    public (int Offset, int Count) Shard(int globalCount)
    {
        int size = WorldSize, rank = Rank;
        if (size == 1) return (0, globalCount);
        int q = globalCount / size, m = globalCount % size;
        return (rank * q + Math.Min(rank, m), q + (rank < m ? 1 : 0));
    }

    /// <summary>At the start of every <c>Fit</c> call, after the data were checked and before the first callback: agree on the
    /// run's settings across ranks and give every rank rank 0's weights.</summary>
    /// <param name="trainer">The trainer.</param>
    /// <param name="settings">Every setting that changes the result, named (model, loss, optimizer, schedule and its parameters,
    /// options, callbacks, the data's hash, the generator's state, and the checkpoint the trainer was restored from).</param>
    public virtual void OnFitBegin(Trainer<T> trainer, IReadOnlyList<KeyValuePair<string, string>> settings)
    {
    }

    /// <summary>At the end of every <c>Fit</c> call that was not ended by an exception, after the callbacks' <c>OnTrainEnd</c>.</summary>
    /// <param name="trainer">The trainer.</param>
    public virtual void OnFitEnd(Trainer<T> trainer)
    {
    }

    /// <summary>Sums <paramref name="values"/> over the ranks in place, with the same bits on every rank.</summary>
    /// <param name="values">This rank's values on entry, the sums on return.</param>
    public virtual void Sum(Span<double> values)
    {
    }

    /// <summary>Concatenates every rank's <paramref name="mine"/> in rank order into <paramref name="all"/>.</summary>
    /// <param name="mine">This rank's values; the same length on every rank.</param>
    /// <param name="all"><see cref="WorldSize"/> × <c>mine.Length</c> values.</param>
    public virtual void Gather(ReadOnlySpan<double> mine, Span<double> all) => mine.CopyTo(all);

    /// <summary>Rank 0's bytes on every rank.</summary>
    /// <param name="data">The bytes on rank 0; ignored on the others.</param>
    /// <returns>Rank 0's bytes.</returns>
    public virtual byte[] Broadcast(byte[] data) => data;

    /// <summary>Loads a checkpoint file for <see cref="TrainingCheckpoint.Restore{T}(Trainer{T}, string)"/>: a collective under
    /// data parallelism (rank 0 reads the file and sends its bytes), so every rank restores the same bytes, or every rank fails
    /// with the same exception.</summary>
    /// <param name="path">The file.</param>
    /// <returns>The parsed file.</returns>
    /// <exception cref="IOException">The file cannot be read.</exception>
    /// <exception cref="InvalidDataException">The file is not a valid safetensors file.</exception>
    public virtual SafeTensorsFile LoadCheckpoint(string path) => SafeTensorsFile.Load(path);

    /// <summary>Before the backward pass of every step (also on a rank whose slice is empty).</summary>
    public virtual void BeginBackward()
    {
    }

    /// <summary>After layer <paramref name="layerIndex"/>'s backward pass, when the strategy has wired itself to the model
    /// (<see cref="Modules.Sequential{T}.LayerBackwardCompleted"/>): that layer's gradients are final and may be sent.</summary>
    /// <param name="layerIndex">The layer, counted from 0; called for the last layer first.</param>
    public virtual void LayerBackwardCompleted(int layerIndex)
    {
    }

    /// <summary>After the backward pass: replaces this rank's gradients by the sum over the ranks (each rank's loss gradient
    /// was scaled by <paramref name="localCount"/> / <paramref name="globalCount"/>, so the sum is the global-batch mean's
    /// gradient). When it returns, every rank holds the same gradients.</summary>
    /// <param name="localCount">This rank's examples of the global batch (0: its gradients are zero).</param>
    /// <param name="globalCount">The examples of the global batch.</param>
    public virtual void ReduceGradients(int localCount, int globalCount)
    {
    }

    /// <summary>At the end of every epoch's last step, before validation and callbacks: make the ranks' state agree (e.g.
    /// broadcast rank 0's module buffers) and check that every rank holds the same parameters.</summary>
    /// <param name="trainer">The trainer.</param>
    /// <param name="epoch">The epoch that ends, from 1.</param>
    /// <exception cref="InvalidOperationException">The ranks' parameters differ.</exception>
    public virtual void OnEpochEnd(Trainer<T> trainer, int epoch)
    {
    }

    /// <summary>Turns the divergence found on one or more ranks into the same exception on every rank (called on every rank when
    /// any rank's output or loss was not finite).</summary>
    /// <param name="local">This rank's exception, or null when its own step was finite.</param>
    /// <returns>The exception every rank throws: that of the lowest rank that diverged.</returns>
    public virtual TrainingDivergedException ShareDivergence(TrainingDivergedException? local) =>
        local ?? throw new InvalidOperationException("TrainingStrategy: a single process has no other rank to report a divergence.");

    private sealed class SingleProcessStrategy : TrainingStrategy<T>
    {
        public override int Rank => 0;

        public override int WorldSize => 1;
    }
}
