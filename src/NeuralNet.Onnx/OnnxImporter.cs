using System.Buffers.Binary;
using Google.Protobuf;
using NeuralNet.Modules;
using NeuralNet.Onnx.Protos;

namespace NeuralNet.Onnx;

/// <summary>
/// Reads an ONNX model whose graph is a chain of supported operators into a trainable <see cref="Sequential{T}"/> of
/// float: predictions equal ONNX Runtime's, and the result trains and saves like any NeuralNet model.
/// </summary>
/// <remarks>
/// <para>Supported: one float32 graph input shaped (batch, fixed dims...); a chain of nodes, each consuming the previous
/// node's output plus constant weights (initializers or Constant nodes); the operators of
/// <see cref="OnnxImportRegistry"/>. Anything else fails with an <see cref="OnnxImportException"/> naming the node, its
/// operator and the reason, before any weight is decoded where possible.</para>
/// <para>Hostile files are bounded: the file is read once (at most <see cref="MaxFileBytes"/>), and a tensor is only
/// allocated after its declared dimensions have been checked against the bytes actually present, so a header claiming
/// 10^12 elements costs nothing. External data (weights in side files) is rejected.</para>
/// </remarks>
public static class OnnxImporter
{
    /// <summary>The largest file accepted (protobuf messages cannot exceed 2 GiB).</summary>
    public const long MaxFileBytes = int.MaxValue;

    /// <summary>The largest per-example input accepted, in elements.</summary>
    public const long MaxInputElements = 1L << 28;

    /// <summary>Loads <paramref name="path"/>.</summary>
    /// <param name="path">An ONNX file.</param>
    /// <exception cref="OnnxImportException">The file is not a supported ONNX model; the message says where and why.</exception>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    public static Sequential<float> Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"ONNX import: {path} does not exist.", path);
        if (info.Length > MaxFileBytes)
            throw new OnnxImportException(path, null, null, $"the file has {info.Length} bytes, more than the {MaxFileBytes} an ONNX protobuf can hold.");
        return Import(File.ReadAllBytes(path), path);
    }

    /// <summary>Imports an ONNX model from its bytes.</summary>
    /// <param name="bytes">The content of an ONNX file.</param>
    /// <param name="source">A name for messages (the file name).</param>
    /// <exception cref="OnnxImportException">The content is not a supported ONNX model; the message says where and why.</exception>
    public static Sequential<float> Import(byte[] bytes, string source = "ONNX model")
    {
        ArgumentNullException.ThrowIfNull(bytes);
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxImportException(source, null, null, $"not an ONNX model: the protobuf is malformed or truncated ({e.Message})", e);
        }
        return new OnnxImportSession(model, source).Run();
    }

    /// <summary>The metadata_props of an ONNX file (e.g. <see cref="OnnxExporter.ArchitectureKey"/>), without importing its graph.</summary>
    /// <param name="path">An ONNX file.</param>
    /// <exception cref="OnnxImportException">The file is not an ONNX model.</exception>
    public static IReadOnlyDictionary<string, string> ReadMetadata(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        try
        {
            var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in model.MetadataProps) result[p.Key] = p.Value;
            return result;
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxImportException(path, null, null, $"not an ONNX model: the protobuf is malformed or truncated ({e.Message})", e);
        }
    }
}

/// <summary>The state of one import: the graph's indexes, the walk along the chain, decoded constants.</summary>
internal sealed class OnnxImportSession
{
    private readonly ModelProto _model;
    private readonly GraphProto _graph;
    private readonly Dictionary<string, TensorProto> _initializers = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OnnxTensor> _decoded = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<NodeProto>> _consumers = new(StringComparer.Ordinal);
    private readonly Dictionary<NodeProto, int> _index = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<NodeProto> _visited = new(ReferenceEqualityComparer.Instance);

    // Set when a mapping fused the nodes after the current one (OnnxNode.TryFuseNext): the walk continues after them.
    private string? _fusedOutput;

    public OnnxImportSession(ModelProto model, string source)
    {
        _model = model;
        Source = source;
        _graph = model.Graph ?? throw Fail("not an ONNX model: it has no graph.");
        if (model.IrVersion <= 0) throw Fail("not an ONNX model: ir_version is missing.");
    }

    public string Source { get; }

    public long Opset { get; private set; }

    public int NodeIndex(NodeProto node) => _index.TryGetValue(node, out int i) ? i : -1;

    public Sequential<float> Run()
    {
        ReadOpset();
        if (_graph.SparseInitializer.Count > 0)
            throw Fail($"sparse initializer '{_graph.SparseInitializer[0].Values?.Name}' is not supported.");
        foreach (var t in _graph.Initializer)
        {
            if (string.IsNullOrEmpty(t.Name)) throw Fail("an initializer has no name.");
            if (!_initializers.TryAdd(t.Name, t)) throw Fail($"two initializers are named '{t.Name}'.");
        }

        // Constants first, so a node's constant inputs are known whatever the node order.
        for (int i = 0; i < _graph.Node.Count; i++)
        {
            var node = _graph.Node[i];
            _index[node] = i;
            if (node.Domain.Length > 0 && node.Domain != "ai.onnx")
                throw NodeFail(node, $"operator domain '{node.Domain}' is not supported (only the default ONNX domain).");
            if (node.OpType == "Constant") RegisterConstantNode(node);
        }
        foreach (var node in _graph.Node)
        {
            if (node.OpType == "Constant") continue;
            int dataInputs = 0;
            foreach (var input in node.Input)
            {
                if (input.Length == 0 || _initializers.ContainsKey(input)) continue;
                dataInputs++;
                if (!_consumers.TryGetValue(input, out var list)) _consumers[input] = list = [];
                list.Add(node);
            }
            if (dataInputs != 1)
                throw NodeFail(node, $"it has {dataInputs} non-constant inputs; NeuralNet imports only chains in which each node consumes the previous node's output plus constant weights.");
            if (node.Output.Count(o => o.Length > 0) != 1)
                throw NodeFail(node, $"it has {node.Output.Count(o => o.Length > 0)} outputs; only single-output nodes are supported.");
        }

        var (inputName, inputShape) = ReadInput();
        int[] shape = inputShape;
        if (_graph.Output.Count != 1) throw Fail($"the graph has {_graph.Output.Count} outputs; exactly one is supported.");
        string outputName = _graph.Output[0].Name;

        var modules = new List<Module<float>>();
        string current = inputName;
        while (true)
        {
            if (!_consumers.TryGetValue(current, out var next) || next.Count == 0)
            {
                if (current != outputName)
                    throw Fail($"the chain ends at value '{current}', which is not the graph output '{outputName}'.");
                break;
            }
            if (next.Count > 1)
                throw NodeFail(next[1], $"value '{current}' feeds {next.Count} nodes ('{NameOf(next[0])}', '{NameOf(next[1])}'...); the graph is not a chain.");
            if (current == outputName)
                throw NodeFail(next[0], $"it consumes the graph output '{outputName}'; the graph is not a chain.");
            var node = next[0];
            if (!_visited.Add(node)) throw NodeFail(node, "the graph has a cycle.");
            var view = new OnnxNode(node, this, shape);
            var mapping = OnnxImportRegistry.Find(node.OpType)
                ?? throw NodeFail(node, $"unknown operator '{node.OpType}'; supported: {string.Join(", ", OnnxImportRegistry.SupportedOperators)}.");
            Module<float>? module;
            try
            {
                module = mapping(view);
            }
            catch (ArgumentException e)
            {
                throw NodeFail(node, e.Message, e);
            }
            current = LastOutput(node);
            if (module is not null)
            {
                try
                {
                    shape = module.GetOutputShape(shape);
                }
                catch (ArgumentException e)
                {
                    throw NodeFail(node, $"the input shape ({string.Join(", ", shape)}) does not fit: {e.Message}", e);
                }
                modules.Add(module);
            }
            // A mapping may have fused following nodes (TryFuseNext); continue after the last of them.
            current = _fusedOutput ?? current;
            _fusedOutput = null;
        }

        foreach (var node in _graph.Node)
        {
            if (node.OpType != "Constant" && !_visited.Contains(node))
                throw NodeFail(node, "it is not on the chain from the graph input to the graph output; the graph is not a chain.");
        }
        if (modules.Count == 0) throw Fail("the graph has no layer NeuralNet can represent (only Identity nodes).");
        return new Sequential<float>(inputShape, [.. modules]);
    }

    public OnnxNode? TryFuseNext(NodeProto node, string opType, IReadOnlyList<int> shape)
    {
        string output = _fusedOutput ?? LastOutput(node);
        if (!_consumers.TryGetValue(output, out var next) || next.Count != 1 || next[0].OpType != opType) return null;
        if (output == _graph.Output[0].Name) return null;
        if (!_visited.Add(next[0])) return null;
        _fusedOutput = LastOutput(next[0]);
        return new OnnxNode(next[0], this, shape.ToArray());
    }

    public bool IsConstant(string name) => _initializers.ContainsKey(name);

    public OnnxTensor? Constant(string name, OnnxNode user)
    {
        if (_decoded.TryGetValue(name, out var t)) return t;
        if (!_initializers.TryGetValue(name, out var proto)) return null;
        t = Decode(proto, user);
        _decoded[name] = t;
        return t;
    }

    private void ReadOpset()
    {
        long? opset = null;
        foreach (var o in _model.OpsetImport)
        {
            if (o.Domain.Length == 0 || o.Domain == "ai.onnx") opset = o.Version;
        }
        if (opset is null) throw Fail("the model imports no version of the default ONNX operator set.");
        if (opset < 7 || opset > 23) throw Fail($"operator set version {opset} is not supported (7 to 23 are).");
        Opset = opset.Value;
    }

    private (string Name, int[] Shape) ReadInput()
    {
        var inputs = _graph.Input.Where(i => !_initializers.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1) throw Fail($"the graph has {inputs.Count} non-constant inputs; exactly one is supported.");
        var input = inputs[0];
        var tensor = input.Type?.TensorType ?? throw Fail($"graph input '{input.Name}' is not a tensor.");
        if (tensor.ElemType != (int)TensorProto.Types.DataType.Float)
            throw Fail($"graph input '{input.Name}' has element type {(TensorProto.Types.DataType)tensor.ElemType}; only float32 is supported.");
        var dims = tensor.Shape?.Dim ?? throw Fail($"graph input '{input.Name}' has no shape.");
        if (dims.Count < 2) throw Fail($"graph input '{input.Name}' has rank {dims.Count}; expected (batch, features...) of rank 2 to 4.");
        if (dims.Count > 4) throw Fail($"graph input '{input.Name}' has rank {dims.Count}; expected (batch, features...) of rank 2 to 4.");
        var shape = new int[dims.Count - 1];
        long elements = 1;
        for (int i = 1; i < dims.Count; i++)
        {
            var d = dims[i];
            if (d.ValueCase != TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue)
                throw Fail($"graph input '{input.Name}' dimension {i} is symbolic ('{d.DimParam}'); only the batch dimension may be.");
            if (d.DimValue < 1 || d.DimValue > OnnxImporter.MaxInputElements)
                throw Fail($"graph input '{input.Name}' dimension {i} is {d.DimValue}; expected 1 to {OnnxImporter.MaxInputElements}.");
            elements *= d.DimValue;
            if (elements > OnnxImporter.MaxInputElements)
                throw Fail($"graph input '{input.Name}' claims more than {OnnxImporter.MaxInputElements} elements per example.");
            shape[i - 1] = (int)d.DimValue;
        }
        return (input.Name, shape);
    }

    private void RegisterConstantNode(NodeProto node)
    {
        if (node.Output.Count != 1 || node.Output[0].Length == 0) throw NodeFail(node, "a Constant must have exactly one output.");
        var value = node.Attribute.FirstOrDefault(a => a.Name == "value");
        if (value?.T is null || node.Attribute.Count != 1)
            throw NodeFail(node, "only Constant nodes with a single 'value' tensor attribute are supported.");
        var tensor = value.T.Clone();
        tensor.Name = node.Output[0];
        if (!_initializers.TryAdd(tensor.Name, tensor)) throw NodeFail(node, $"value '{tensor.Name}' is defined twice.");
        _visited.Add(node);
    }

    private OnnxTensor Decode(TensorProto t, OnnxNode user)
    {
        string what = $"tensor '{t.Name}'";
        if (t.DataLocation == TensorProto.Types.DataLocation.External || t.ExternalData.Count > 0)
            throw user.Fail($"{what} keeps its data in an external file; external data is not supported (save the model with the weights inside).");
        var shape = new int[t.Dims.Count];
        long count = 1;
        for (int i = 0; i < t.Dims.Count; i++)
        {
            long d = t.Dims[i];
            if (d < 0 || d > int.MaxValue) throw user.Fail($"{what} has dimension {i} = {d}.");
            shape[i] = (int)d;
            count = d == 0 ? 0 : (count > long.MaxValue / Math.Max(d, 1) ? long.MaxValue : count * d);
        }
        int elementSize;
        int stored;
        switch ((TensorProto.Types.DataType)t.DataType)
        {
            case TensorProto.Types.DataType.Float:
                elementSize = 4;
                stored = t.RawData.IsEmpty ? t.FloatData.Count : -1;
                break;
            case TensorProto.Types.DataType.Int64:
                elementSize = 8;
                stored = t.RawData.IsEmpty ? t.Int64Data.Count : -1;
                break;
            default:
                throw user.Fail($"{what} has data type {(TensorProto.Types.DataType)t.DataType}; only float32 weights (and int64 shapes) are supported.");
        }
        if (stored < 0)
        {
            if (t.RawData.Length % elementSize != 0)
                throw user.Fail($"{what} has {t.RawData.Length} raw bytes, not a multiple of {elementSize}.");
            stored = t.RawData.Length / elementSize;
        }
        // Checked against the data actually present before anything is allocated: dimensions claiming more
        // elements than the file holds are rejected here, whatever they claim.
        if (count != stored)
            throw user.Fail($"{what} has shape ({string.Join(", ", t.Dims)}) = {(count == long.MaxValue ? "more than 2^63" : count.ToString(System.Globalization.CultureInfo.InvariantCulture))} elements but holds {stored}.");

        if (elementSize == 4)
        {
            var data = new float[stored];
            if (t.RawData.IsEmpty) t.FloatData.CopyTo(data, 0);
            else
            {
                var raw = t.RawData.Span;
                for (int i = 0; i < data.Length; i++) data[i] = BinaryPrimitives.ReadSingleLittleEndian(raw.Slice(4 * i, 4));
            }
            return new OnnxTensor(t.Name, shape, data, null);
        }
        var longs = new long[stored];
        if (t.RawData.IsEmpty) t.Int64Data.CopyTo(longs, 0);
        else
        {
            var raw = t.RawData.Span;
            for (int i = 0; i < longs.Length; i++) longs[i] = BinaryPrimitives.ReadInt64LittleEndian(raw.Slice(8 * i, 8));
        }
        return new OnnxTensor(t.Name, shape, null, longs);
    }

    private static string LastOutput(NodeProto node) => node.Output.First(o => o.Length > 0);

    private string NameOf(NodeProto node) => string.IsNullOrEmpty(node.Name) ? $"#{NodeIndex(node)}" : node.Name;

    private OnnxImportException Fail(string reason) => new(Source, null, null, reason);

    private OnnxImportException NodeFail(NodeProto node, string reason, Exception? inner = null) =>
        new(Source, NameOf(node), node.OpType, reason, inner);
}
