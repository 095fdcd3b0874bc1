using System.Numerics;

namespace NeuralNet.Training;

/// <summary>
/// A hook into <see cref="Trainer{T}"/>'s loop. Override the events you need; all default to doing nothing.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>Callbacks run on the training thread. <see cref="OnIterationEnd"/> runs after every step, so keep it cheap and
/// allocation-free. A callback stops training with <see cref="Trainer{T}.RequestStop"/>.</remarks>
public abstract class TrainingCallback<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>At the start of every <c>Fit</c> call, after validation data are prepared.</summary>
    public virtual void OnTrainBegin(Trainer<T> trainer)
    {
    }

    /// <summary>After every optimizer step (or undone step).</summary>
    public virtual void OnIterationEnd(Trainer<T> trainer, in IterationRecord record)
    {
    }

    /// <summary>After every epoch, once its record is in the history and the schedule has been stepped.</summary>
    public virtual void OnEpochEnd(Trainer<T> trainer, in EpochRecord record)
    {
    }

    /// <summary>At the end of every <c>Fit</c> call that was not ended by an exception.</summary>
    public virtual void OnTrainEnd(Trainer<T> trainer)
    {
    }
}
