using System.Numerics;

namespace NeuralNet.Serialization;

/// <summary>The element types a <see cref="SafeTensorsFile"/> stores, named as in the safetensors header.</summary>
public enum SafeTensorDType
{
    /// <summary>IEEE 754 single precision, 4 bytes little-endian (<c>"F32"</c>).</summary>
    F32,

    /// <summary>IEEE 754 double precision, 8 bytes little-endian (<c>"F64"</c>).</summary>
    F64,

    /// <summary>Signed 64-bit integer, 8 bytes little-endian (<c>"I64"</c>); for counters.</summary>
    I64,

    /// <summary>Unsigned 64-bit integer, 8 bytes little-endian (<c>"U64"</c>); for random-generator states.</summary>
    U64,
}

/// <summary>One named tensor of a <see cref="SafeTensorsFile"/>: its element type, shape and values.</summary>
/// <remarks>The values are held as a <see cref="float"/>[], <see cref="double"/>[], <see cref="long"/>[] or <see cref="ulong"/>[] matching
/// <see cref="DType"/>, in row-major order. An empty shape is a scalar with one element.</remarks>
public sealed class SafeTensorEntry
{
    private readonly int[] _shape;

    internal SafeTensorEntry(string name, SafeTensorDType dtype, int[] shape, Array data)
    {
        Name = name;
        DType = dtype;
        _shape = shape;
        Data = data;
    }

    /// <summary>The tensor's name, unique within its file, e.g. <c>layers.0.weight</c>.</summary>
    public string Name { get; }

    /// <summary>The element type.</summary>
    public SafeTensorDType DType { get; }

    /// <summary>The dimensions, outermost first.</summary>
    public ReadOnlySpan<int> Shape => _shape;

    /// <summary>The number of elements (the product of <see cref="Shape"/>; 1 for a scalar).</summary>
    public int ElementCount => Data.Length;

    /// <summary>The values: a <see cref="float"/>[], <see cref="double"/>[], <see cref="long"/>[] or <see cref="ulong"/>[] according to <see cref="DType"/>.</summary>
    public Array Data { get; }

    /// <summary>The size in bytes of one element of <paramref name="dtype"/>.</summary>
    public static int ElementSize(SafeTensorDType dtype) => dtype == SafeTensorDType.F32 ? 4 : 8;

    /// <summary>Returns a copy of the shape.</summary>
    public int[] ShapeArray() => (int[])_shape.Clone();

    /// <summary>Copies the values into a new <see cref="NdArray{T}"/>, converting F32 and F64 to <typeparamref name="T"/>.</summary>
    /// <typeparam name="T">The tensor's element type.</typeparam>
    /// <remarks>When the stored type equals <typeparamref name="T"/> the copy is bit-exact.</remarks>
    /// <exception cref="InvalidOperationException">The entry holds integers, or has a zero-sized dimension
    /// (which <see cref="NdArray{T}"/> cannot represent).</exception>
    public NdArray<T> ToNdArray<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (DType is SafeTensorDType.I64 or SafeTensorDType.U64)
            throw new InvalidOperationException($"SafeTensorEntry '{Name}': an {DType} integer tensor cannot be read as a floating-point tensor; use ToInt64Array() or ToUInt64Array().");
        foreach (int d in _shape)
            if (d < 1)
                throw new InvalidOperationException($"SafeTensorEntry '{Name}': shape {NdArray<T>.ShapeToString(_shape)} has a zero-sized dimension.");
        var result = new NdArray<T>(_shape);
        var dst = result.Data;
        if (Data is T[] same)
        {
            same.CopyTo(dst, 0);
        }
        else if (Data is float[] f)
        {
            for (int i = 0; i < f.Length; i++) dst[i] = T.CreateChecked(f[i]);
        }
        else
        {
            var d = (double[])Data;
            for (int i = 0; i < d.Length; i++) dst[i] = T.CreateChecked(d[i]);
        }
        return result;
    }

    /// <summary>Returns a copy of the values of an I64 tensor.</summary>
    /// <exception cref="InvalidOperationException">The entry is not I64.</exception>
    public long[] ToInt64Array()
    {
        if (Data is not long[] values)
            throw new InvalidOperationException($"SafeTensorEntry '{Name}': the tensor is {DType}, not I64.");
        return (long[])values.Clone();
    }

    /// <summary>Returns a copy of the values of a U64 tensor.</summary>
    /// <exception cref="InvalidOperationException">The entry is not U64.</exception>
    public ulong[] ToUInt64Array()
    {
        if (Data is not ulong[] values)
            throw new InvalidOperationException($"SafeTensorEntry '{Name}': the tensor is {DType}, not U64.");
        return (ulong[])values.Clone();
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {DType}{NdArray<float>.ShapeToString(_shape)}";
}
