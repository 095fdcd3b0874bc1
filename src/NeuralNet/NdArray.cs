using System.Numerics;
using System.Runtime.CompilerServices;

namespace NeuralNet;

/// <summary>
/// A dense, contiguous, row-major n-dimensional array: a shape plus storage.
/// </summary>
/// <typeparam name="T"><see cref="float"/> for training, <see cref="double"/> for gradient checks.</typeparam>
/// <remarks>
/// <para>Images are laid out NCHW: (batch, channels, height, width). Feature batches are (N, features).</para>
/// <para>Named <c>NdArray</c>, not <c>Tensor</c>: the library's own dependency, System.Numerics.Tensors, has a
/// <c>Tensor&lt;T&gt;</c> (and ONNX Runtime a <c>DenseTensor&lt;T&gt;</c>), so a file importing both namespaces
/// would not compile. <see cref="NdArray{T}"/> is deliberately smaller than those: it owns one array, and its
/// spans go straight to <c>TensorPrimitives</c> and the kernels.</para>
/// <para><see cref="Reshape(int[])"/> returns a view that shares storage; nothing else aliases.</para>
/// </remarks>
public sealed class NdArray<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T[] _data;
    private readonly int[] _shape;

    /// <summary>Creates a zero-filled tensor of the given shape.</summary>
    /// <param name="shape">The dimensions; each must be at least 1.</param>
    /// <exception cref="ArgumentException">A dimension is less than 1, or the element count overflows.</exception>
    public NdArray(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        _shape = (int[])shape.Clone();
        _data = new T[CheckedLength(_shape)];
    }

    /// <summary>Wraps an existing array (no copy) with the given shape.</summary>
    /// <param name="data">The storage; its length must equal the product of <paramref name="shape"/>.</param>
    /// <param name="shape">The dimensions; each must be at least 1.</param>
    /// <exception cref="ArgumentException">The length of <paramref name="data"/> does not match the shape.</exception>
    public NdArray(T[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(shape);
        _shape = (int[])shape.Clone();
        long length = CheckedLength(_shape);
        if (data.Length != length)
            throw new ArgumentException($"NdArray: data has {data.Length} elements but shape {ShapeToString(_shape)} needs {length}.", nameof(data));
        _data = data;
    }

    /// <summary>The dimensions, outermost first. Do not modify the returned span's source.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>The number of dimensions.</summary>
    public int Rank => _shape.Length;

    /// <summary>The total number of elements.</summary>
    public int Length => _data.Length;

    /// <summary>The underlying storage, row-major. Exposed for kernels and interop.</summary>
    public T[] Data => _data;

    /// <summary>The storage as a span.</summary>
    public Span<T> AsSpan() => _data;

    /// <summary>The size of dimension <paramref name="axis"/>; negative axes count from the end.</summary>
    public int Dim(int axis) => _shape[axis < 0 ? _shape.Length + axis : axis];

    /// <summary>Returns a copy of the shape array.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

    /// <summary>Gets or sets one element by its full multi-index.</summary>
    /// <exception cref="ArgumentException">The index count differs from <see cref="Rank"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An index is outside its dimension.</exception>
    public T this[params int[] index]
    {
        get => _data[Offset(index)];
        set => _data[Offset(index)] = value;
    }

    /// <summary>Returns a tensor sharing this storage with another shape of the same element count.</summary>
    /// <param name="shape">The new shape; one entry may be -1 to be inferred.</param>
    /// <exception cref="ArgumentException">The element counts differ.</exception>
    public NdArray<T> Reshape(params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        var s = (int[])shape.Clone();
        int infer = Array.IndexOf(s, -1);
        if (infer >= 0)
        {
            long rest = 1;
            for (int i = 0; i < s.Length; i++) if (i != infer) rest *= s[i];
            if (rest <= 0 || _data.Length % rest != 0)
                throw new ArgumentException($"NdArray.Reshape: cannot reshape {ShapeToString(_shape)} to {ShapeToString(shape)}.", nameof(shape));
            s[infer] = (int)(_data.Length / rest);
        }
        if (CheckedLength(s) != _data.Length)
            throw new ArgumentException($"NdArray.Reshape: cannot reshape {ShapeToString(_shape)} ({_data.Length} elements) to {ShapeToString(shape)}.", nameof(shape));
        return new NdArray<T>(_data, s);
    }

    /// <summary>Returns a deep copy.</summary>
    public NdArray<T> Clone() => new((T[])_data.Clone(), _shape);

    /// <summary>Sets every element to zero.</summary>
    public void Clear() => Array.Clear(_data);

    /// <summary>Fills every element with <paramref name="value"/>.</summary>
    public void Fill(T value) => Array.Fill(_data, value);

    /// <summary>Copies the elements of <paramref name="source"/>, which must have exactly this tensor's shape, into this tensor.</summary>
    /// <remarks>The shape, not only the element count, must match: a (784, 64) tensor is not accepted for a (64, 784) weight,
    /// since copying it would silently scramble the values. To copy raw row-major data between tensors of equal length and
    /// different shapes on purpose, use <see cref="CopyDataFrom"/>.</remarks>
    /// <exception cref="ArgumentException">The shapes differ.</exception>
    public void CopyFrom(NdArray<T> source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!source.HasShape(_shape))
            throw new ArgumentException($"NdArray.CopyFrom: source has shape {source.ShapeString}, this tensor has {ShapeString}; the shapes must be equal (CopyDataFrom copies raw data of equal length).", nameof(source));
        source._data.CopyTo(_data, 0);
    }

    /// <summary>Copies the row-major elements of <paramref name="source"/> into this tensor, whatever the two shapes, as long as
    /// the lengths agree (a reinterpretation, as <see cref="Reshape(int[])"/> followed by a copy).</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public void CopyDataFrom(ReadOnlySpan<T> source)
    {
        if (source.Length != Length)
            throw new ArgumentException($"NdArray.CopyDataFrom: source has {source.Length} elements, this tensor {ShapeString} has {Length}.", nameof(source));
        source.CopyTo(_data);
    }

    /// <summary>True when the shape equals <paramref name="shape"/>.</summary>
    public bool HasShape(ReadOnlySpan<int> shape) => shape.SequenceEqual(_shape);

    /// <summary>The shape formatted as <c>(2, 3, 4)</c>, for messages.</summary>
    public string ShapeString => ShapeToString(_shape);

    /// <summary>Converts every element to another floating-point type (e.g. float to double).</summary>
    public NdArray<TOther> Cast<TOther>() where TOther : unmanaged, IFloatingPointIeee754<TOther>
    {
        var result = new NdArray<TOther>(_shape);
        var dst = result.Data;
        for (int i = 0; i < _data.Length; i++) dst[i] = TOther.CreateChecked(_data[i]);
        return result;
    }

    /// <summary>Formats a shape as <c>(2, 3, 4)</c>.</summary>
    public static string ShapeToString(ReadOnlySpan<int> shape)
    {
        var parts = new string[shape.Length];
        for (int i = 0; i < shape.Length; i++) parts[i] = shape[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return "(" + string.Join(", ", parts) + ")";
    }

    /// <inheritdoc/>
    public override string ToString() => $"NdArray<{typeof(T).Name}>{ShapeString}";

    private static int CheckedLength(int[] shape)
    {
        long length = 1;
        foreach (int d in shape)
        {
            if (d < 1)
                throw new ArgumentException($"NdArray: every dimension must be at least 1, got shape {ShapeToString(shape)}.", nameof(shape));
            length *= d;
            if (length > Array.MaxLength)
                throw new ArgumentException($"NdArray: shape {ShapeToString(shape)} has more elements than an array can hold.", nameof(shape));
        }
        return (int)length;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Offset(int[] index)
    {
        if (index.Length != _shape.Length)
            throw new ArgumentException($"NdArray: {index.Length} indices given for a tensor of rank {_shape.Length} {ShapeString}.", nameof(index));
        int offset = 0;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)_shape[i])
                throw new ArgumentOutOfRangeException(nameof(index), $"NdArray: index {index[i]} is outside dimension {i} of size {_shape[i]} in {ShapeString}.");
            offset = offset * _shape[i] + index[i];
        }
        return offset;
    }
}
