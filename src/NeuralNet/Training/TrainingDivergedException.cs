namespace NeuralNet.Training;

/// <summary>
/// Thrown when training produced a NaN or infinite value: the message and the properties name the epoch, the iteration
/// and the first layer whose output was not finite.
/// </summary>
public sealed class TrainingDivergedException : ArithmeticException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">The full message.</param>
    /// <param name="epoch">The epoch, from 1.</param>
    /// <param name="iteration">The iteration (optimizer step being attempted), from 1.</param>
    /// <param name="layerIndex">The index of the first layer with a non-finite output; -1 when the input batch itself is
    /// not finite; -2 when every layer output was finite and the loss was not.</param>
    /// <param name="layerName">The layer's description, or <c>input</c> / the loss's name.</param>
    /// <param name="inner">The exception that revealed the problem, if any.</param>
    public TrainingDivergedException(string message, int epoch, long iteration, int layerIndex, string layerName, Exception? inner = null)
        : base(message, inner)
    {
        Epoch = epoch;
        Iteration = iteration;
        LayerIndex = layerIndex;
        LayerName = layerName;
    }

    /// <summary>The epoch in which training diverged, from 1.</summary>
    public int Epoch { get; }

    /// <summary>The iteration (optimizer step) being attempted, from 1, counted across epochs.</summary>
    public long Iteration { get; }

    /// <summary>The first layer whose output was not finite; -1 for the input, -2 for the loss.</summary>
    public int LayerIndex { get; }

    /// <summary>The name of that layer (or <c>input</c>, or the loss's name).</summary>
    public string LayerName { get; }
}
