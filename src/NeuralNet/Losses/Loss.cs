using System.Numerics;

namespace NeuralNet.Losses;

/// <summary>
/// The base of every loss: <see cref="Forward(NdArray{T}, ReadOnlySpan{int})"/> computes the mean loss of a batch and
/// caches what <see cref="Backward"/> needs; <see cref="Backward"/> returns dL/dprediction.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
/// <remarks>
/// <para>Predictions are (N, classes). Targets are either class indices (one per row) or one-hot rows (N, classes).</para>
/// <para>The loss is averaged over the batch, so the returned gradient carries the 1/N factor.</para>
/// <para>The tensor returned by <see cref="Backward"/> is a buffer owned by the loss and reused by the next call.</para>
/// </remarks>
public abstract class Loss<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private string? _name;

    /// <summary>A short name for messages, e.g. <c>MseLoss</c>.</summary>
    /// <remarks>Computed once and cached: losses pass it to their argument checks on every call, and the training step must not allocate.</remarks>
    public virtual string Name
    {
        get
        {
            if (_name is null)
            {
                var n = GetType().Name;
                int tick = n.IndexOf('`');
                _name = tick >= 0 ? n[..tick] : n;
            }
            return _name;
        }
    }

    /// <summary>The mean loss of a batch against class-index labels.</summary>
    /// <param name="prediction">(N, classes).</param>
    /// <param name="labels">N labels, each in [0, classes).</param>
    /// <exception cref="ArgumentException">The shapes disagree, a label is out of range, or a prediction is NaN or infinite; the message names the loss, the row and the value.</exception>
    public abstract T Forward(NdArray<T> prediction, ReadOnlySpan<int> labels);

    /// <summary>The mean loss of a batch against target rows (one-hot, or any target of the prediction's shape).</summary>
    /// <param name="prediction">(N, classes).</param>
    /// <param name="target">(N, classes).</param>
    /// <exception cref="ArgumentException">The shapes disagree, or a value is NaN or infinite; the message names the loss, the row and the value.</exception>
    public abstract T Forward(NdArray<T> prediction, NdArray<T> target);

    /// <summary>dL/dprediction for the last <c>Forward</c> call, of the prediction's shape.</summary>
    /// <exception cref="InvalidOperationException">No forward call has been made.</exception>
    public abstract NdArray<T> Backward();
}
