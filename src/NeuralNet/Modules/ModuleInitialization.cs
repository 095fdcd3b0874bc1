using System.Numerics;
using NeuralNet.Initialization;

namespace NeuralNet.Modules;

/// <summary>Re-applies an <see cref="Initializer"/> to the weighted layers of a module or a whole model that exists.</summary>
/// <remarks>The distributions live in <c>NeuralNet.Initialization</c>; visiting layers needs the modules, so this walk
/// lives here and the dependency goes one way (modules use initializers, never the reverse). A new layer takes its
/// scheme in its constructor (<see cref="Dense{T}"/>, <see cref="Conv2D{T}"/>), which draws each weight once; this is
/// for starting an existing model again, or with a different scheme.</remarks>
public static class ModuleInitialization
{
    /// <summary>
    /// Re-initializes every weighted layer in <paramref name="module"/>: weights from <paramref name="initializer"/>,
    /// biases zero. Parameter-free modules are skipped; <see cref="Sequential{T}"/> is visited layer by layer.
    /// </summary>
    /// <param name="initializer">The scheme.</param>
    /// <param name="module">A single module or a whole model.</param>
    /// <param name="random">The generator; it advances by one draw per weight.</param>
    /// <returns>The number of weighted layers initialized.</returns>
    public static int Initialize<T>(this Initializer initializer, Module<T> module, RandomGenerator random)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(initializer);
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(random);
        switch (module)
        {
            case Sequential<T> sequential:
                int count = 0;
                foreach (var layer in sequential.Layers) count += initializer.Initialize(layer, random);
                return count;
            case IWeightedModule<T> weighted:
                initializer.Fill(weighted.Weight.Value, weighted.FanIn, weighted.FanOut, random);
                weighted.Bias?.Value.Clear();
                return 1;
            default:
                return 0;
        }
    }

    /// <summary>Re-initializes <paramref name="module"/> from a fresh generator seeded with <paramref name="seed"/>.</summary>
    /// <param name="initializer">The scheme.</param>
    /// <param name="module">A single module or a whole model.</param>
    /// <param name="seed">The seed; equal seeds give bit-identical weights.</param>
    /// <returns>The number of weighted layers initialized.</returns>
    public static int Initialize<T>(this Initializer initializer, Module<T> module, ulong seed)
        where T : unmanaged, IFloatingPointIeee754<T>
        => initializer.Initialize(module, new RandomGenerator(seed));
}
