using System.Globalization;
using System.Numerics;

namespace NeuralNet.Training;

/// <summary>Saves a <see cref="TrainingCheckpoint"/> every <see cref="EveryEpochs"/> epochs (under data parallelism, on rank 0 only).</summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>The path may contain <c>{epoch}</c>, replaced by the epoch number (e.g. <c>run/ckpt-{epoch}.safetensors</c>);
/// without it each save atomically replaces the previous file. Add it after callbacks that change the weights at epoch end
/// or keep state the checkpoint saves (<see cref="ICheckpointedCallback{T}"/>, e.g. <see cref="EarlyStopping{T}"/>).</remarks>
public sealed class CheckpointCallback<T> : TrainingCallback<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Creates the callback.</summary>
    /// <param name="path">The target path, optionally with <c>{epoch}</c>; its directory must exist.</param>
    /// <param name="everyEpochs">Save after every epoch whose number is a multiple of this, at least 1.</param>
    /// <exception cref="ArgumentException">The path is empty or <paramref name="everyEpochs"/> is less than 1.</exception>
    public CheckpointCallback(string path, int everyEpochs = 1)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (everyEpochs < 1) throw new ArgumentException($"CheckpointCallback: everyEpochs must be at least 1, got {everyEpochs}.", nameof(everyEpochs));
        Path = path;
        EveryEpochs = everyEpochs;
    }

    /// <summary>The path pattern.</summary>
    public string Path { get; }

    /// <summary>The interval in epochs.</summary>
    public int EveryEpochs { get; }

    /// <summary>The files written so far, oldest first.</summary>
    public IList<string> Saved { get; } = new List<string>();

    /// <inheritdoc/>
    public override void OnEpochEnd(Trainer<T> trainer, in EpochRecord record)
    {
        ArgumentNullException.ThrowIfNull(trainer);
        // Data-parallel ranks hold the same state: one of them writes.
        if (record.Epoch % EveryEpochs != 0 || !trainer.Strategy.WritesFiles) return;
        string path = Path.Replace("{epoch}", record.Epoch.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        TrainingCheckpoint.Save(trainer, path);
        Saved.Add(path);
    }
}
