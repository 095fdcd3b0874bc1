using System.Numerics;

namespace NeuralNet.Training;

/// <summary>
/// A preallocated copy of a list of parameters' values, captured and restored without allocating. Used for early
/// stopping's best weights and for Bold Driver's undo.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
internal sealed class ParameterSnapshot<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Parameter<T>[] _parameters;
    private readonly NdArray<T>[] _copies;

    /// <summary>Allocates storage for the values of <paramref name="parameters"/> (nothing is captured yet).</summary>
    public ParameterSnapshot(IReadOnlyList<Parameter<T>> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _parameters = [.. parameters];
        _copies = Array.ConvertAll(_parameters, p => new NdArray<T>(p.Value.ShapeArray()));
    }

    /// <summary>True once <see cref="Capture"/> has run.</summary>
    public bool HasValue { get; private set; }

    /// <summary>The captured values, in parameter order (valid when <see cref="HasValue"/>).</summary>
    public IReadOnlyList<NdArray<T>> Values => _copies;

    /// <summary>Copies the parameters' current values into the snapshot.</summary>
    public void Capture()
    {
        for (int i = 0; i < _parameters.Length; i++) _copies[i].CopyFrom(_parameters[i].Value);
        HasValue = true;
    }

    /// <summary>Copies the snapshot back into the parameters.</summary>
    /// <exception cref="InvalidOperationException">Nothing has been captured.</exception>
    public void Restore()
    {
        if (!HasValue) throw new InvalidOperationException("ParameterSnapshot: nothing has been captured to restore.");
        for (int i = 0; i < _parameters.Length; i++) _parameters[i].Value.CopyFrom(_copies[i]);
    }

    /// <summary>Loads values (e.g. from a checkpoint) into the snapshot.</summary>
    /// <exception cref="ArgumentException">The count or a shape differs from the parameters'.</exception>
    public void Load(IReadOnlyList<NdArray<T>> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count != _copies.Length)
            throw new ArgumentException($"ParameterSnapshot.Load: expected {_copies.Length} tensors, got {values.Count}.", nameof(values));
        for (int i = 0; i < _copies.Length; i++)
            if (values[i] is null || !values[i].HasShape(_copies[i].Shape))
                throw new ArgumentException($"ParameterSnapshot.Load: tensor {i} has shape {values[i]?.ShapeString ?? "null"}, parameter {_parameters[i]} needs {_copies[i].ShapeString}.", nameof(values));
        for (int i = 0; i < _copies.Length; i++) _copies[i].CopyFrom(values[i]);
        HasValue = true;
    }
}
