using NeuralNet.Onnx.Protos;

namespace NeuralNet.Onnx;

/// <summary>
/// One node of the graph being imported, as an import mapping sees it: its attributes (validated on access), its
/// constant inputs (decoded on access), and the per-example shape of the value flowing into it.
/// </summary>
public sealed class OnnxNode
{
    private readonly NodeProto _node;
    private readonly OnnxImportSession _session;

    internal OnnxNode(NodeProto node, OnnxImportSession session, int[] inputShape)
    {
        _node = node;
        _session = session;
        InputShape = inputShape;
        Name = string.IsNullOrEmpty(node.Name) ? $"#{session.NodeIndex(node)}" : node.Name;
    }

    /// <summary>The node's name (or <c>#index</c> when it has none).</summary>
    public string Name { get; }

    /// <summary>The operator, e.g. <c>Conv</c>.</summary>
    public string OpType => _node.OpType;

    /// <summary>The version of the default-domain operator set the model imports.</summary>
    public long OpsetVersion => _session.Opset;

    /// <summary>The per-example shape (without the batch dimension) of the value flowing into the node.</summary>
    public IReadOnlyList<int> InputShape { get; }

    /// <summary>The number of inputs the node lists (the flowing value first, then constants; empty names count).</summary>
    public int InputCount => _node.Input.Count;

    /// <summary>An exception naming this node, its operator and <paramref name="reason"/>, for a mapping to throw.</summary>
    /// <param name="reason">What is wrong or unsupported.</param>
    public OnnxImportException Fail(string reason) => new(_session.Source, Name, OpType, reason);

    /// <summary>True when the node sets the attribute.</summary>
    /// <param name="name">The attribute name.</param>
    public bool HasAttribute(string name) => Find(name) is not null;

    /// <summary>An integer attribute, or <paramref name="defaultValue"/> when absent.</summary>
    /// <param name="name">The attribute name.</param>
    /// <param name="defaultValue">The operator's default.</param>
    /// <exception cref="OnnxImportException">The attribute has another type.</exception>
    public long Int(string name, long defaultValue)
    {
        var a = Find(name);
        if (a is null) return defaultValue;
        if (TypeOf(a) != AttributeProto.Types.AttributeType.Int) throw Fail($"attribute '{name}' must be an integer.");
        return a.I;
    }

    /// <summary>A float attribute, or <paramref name="defaultValue"/> when absent.</summary>
    /// <param name="name">The attribute name.</param>
    /// <param name="defaultValue">The operator's default.</param>
    /// <exception cref="OnnxImportException">The attribute has another type.</exception>
    public float Float(string name, float defaultValue)
    {
        var a = Find(name);
        if (a is null) return defaultValue;
        if (TypeOf(a) != AttributeProto.Types.AttributeType.Float) throw Fail($"attribute '{name}' must be a float.");
        return a.F;
    }

    /// <summary>A list-of-integers attribute, or null when absent.</summary>
    /// <param name="name">The attribute name.</param>
    /// <exception cref="OnnxImportException">The attribute has another type.</exception>
    public long[]? Ints(string name)
    {
        var a = Find(name);
        if (a is null) return null;
        if (TypeOf(a) != AttributeProto.Types.AttributeType.Ints) throw Fail($"attribute '{name}' must be a list of integers.");
        return a.Ints.ToArray();
    }

    /// <summary>A string attribute, or <paramref name="defaultValue"/> when absent.</summary>
    /// <param name="name">The attribute name.</param>
    /// <param name="defaultValue">The operator's default.</param>
    /// <exception cref="OnnxImportException">The attribute has another type.</exception>
    public string String(string name, string defaultValue)
    {
        var a = Find(name);
        if (a is null) return defaultValue;
        if (TypeOf(a) != AttributeProto.Types.AttributeType.String) throw Fail($"attribute '{name}' must be a string.");
        return a.S.ToStringUtf8();
    }

    /// <summary>
    /// The constant (initializer or Constant node) feeding input <paramref name="index"/>, or null when that input is
    /// absent (an optional input left out).
    /// </summary>
    /// <param name="index">The input's position (1 for a Gemm's B, 2 for its C, ...).</param>
    /// <exception cref="OnnxImportException">The input is not a constant, or its tensor is malformed or of an unsupported type.</exception>
    public OnnxTensor? Constant(int index)
    {
        if (index >= _node.Input.Count || _node.Input[index].Length == 0) return null;
        return _session.Constant(_node.Input[index], this)
            ?? throw Fail($"input {index} ('{_node.Input[index]}') must be a constant (an initializer); NeuralNet imports only chains whose other inputs are weights.");
    }

    /// <summary>Like <see cref="Constant"/>, but the input must be present and hold float32 values.</summary>
    /// <param name="index">The input's position.</param>
    /// <param name="what">What the input is, for the message (e.g. <c>weight</c>).</param>
    /// <exception cref="OnnxImportException">The input is missing, not constant or not float32.</exception>
    public OnnxTensor RequireFloatConstant(int index, string what)
    {
        var t = Constant(index) ?? throw Fail($"the {what} (input {index}) is missing.");
        if (t.Floats is null) throw Fail($"the {what} '{t.Name}' must be float32.");
        return t;
    }

    /// <summary>
    /// When the single consumer of this node's output is a node of <paramref name="opType"/>, takes it over (the walk
    /// skips it) and returns it; otherwise null. Lets a mapping fuse a pattern such as MatMul followed by Add.
    /// </summary>
    /// <param name="opType">The operator the next node must have.</param>
    public OnnxNode? TryFuseNext(string opType) => _session.TryFuseNext(_node, opType, InputShape);

    /// <summary>The position of the node's one non-constant input (the value flowing along the chain); usually 0.</summary>
    public int DataInputIndex
    {
        get
        {
            for (int i = 0; i < _node.Input.Count; i++)
                if (_node.Input[i].Length > 0 && !_session.IsConstant(_node.Input[i])) return i;
            return 0;
        }
    }

    private AttributeProto? Find(string name)
    {
        foreach (var a in _node.Attribute)
            if (a.Name == name) return a;
        return null;
    }

    // Files written by old exporters may leave the type unset; infer it from the field that is filled.
    private static AttributeProto.Types.AttributeType TypeOf(AttributeProto a)
    {
        if (a.Type != AttributeProto.Types.AttributeType.Undefined) return a.Type;
        if (a.Ints.Count > 0) return AttributeProto.Types.AttributeType.Ints;
        if (a.Floats.Count > 0) return AttributeProto.Types.AttributeType.Floats;
        if (!a.S.IsEmpty) return AttributeProto.Types.AttributeType.String;
        if (a.T is not null) return AttributeProto.Types.AttributeType.Tensor;
        if (a.F != 0) return AttributeProto.Types.AttributeType.Float;
        return AttributeProto.Types.AttributeType.Int;
    }

    internal NodeProto Proto => _node;
}
