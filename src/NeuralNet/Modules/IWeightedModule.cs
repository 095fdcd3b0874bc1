using System.Numerics;

namespace NeuralNet.Modules;

/// <summary>
/// A module with one weight tensor (and optionally a bias) whose initial values an
/// <see cref="Initialization.Initializer"/> can draw from its fan-in and fan-out.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
public interface IWeightedModule<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The weight parameter.</summary>
    Parameter<T> Weight { get; }

    /// <summary>The bias parameter, or null when the module has none.</summary>
    Parameter<T>? Bias { get; }

    /// <summary>The number of inputs feeding one output unit (used by Xavier and He initialization).</summary>
    int FanIn { get; }

    /// <summary>The number of outputs one input unit feeds (used by Xavier initialization).</summary>
    int FanOut { get; }
}
