using System.Reflection;
using Google.Protobuf;
using NeuralNet.Modules;
using NeuralNet.Onnx.Protos;
using NeuralNet.Serialization;

namespace NeuralNet.Onnx;

/// <summary>Options of <see cref="OnnxExporter"/>.</summary>
public sealed class OnnxExportOptions
{
    /// <summary>The name of the graph input, shaped (batch, per-example input shape...). Defaults to <c>input</c>.</summary>
    public string InputName { get; init; } = "input";

    /// <summary>The name of the graph output. Defaults to <c>output</c>.</summary>
    public string OutputName { get; init; } = "output";

    /// <summary>The symbolic name of the dynamic batch dimension. Defaults to <c>batch</c>.</summary>
    public string BatchDimensionName { get; init; } = "batch";

    /// <summary>Extra key/value pairs stored in the model's <c>metadata_props</c> (keys must not start with <c>neuralnet.</c>).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }
}

/// <summary>
/// Writes a NeuralNet model as an ONNX model: opset 13 of the default domain (IR version 7), float32, one input and one
/// output with a dynamic batch dimension, weights as initializers named like a PyTorch state dict (<c>0.weight</c>).
/// </summary>
/// <remarks>
/// Metadata: <c>producer_name</c> is <c>NeuralNet</c>, <c>producer_version</c> the NeuralNet.Onnx version,
/// <c>doc_string</c> the model's layer summary, and <c>metadata_props</c> hold <c>neuralnet.architecture</c> (the same
/// architecture JSON as <see cref="ModelSerializer"/> stores, when every module is registered with its
/// ModuleRegistry) and <c>neuralnet.version</c>. Modules are written by the
/// mappings of <see cref="OnnxExportRegistry"/>.
/// </remarks>
public static class OnnxExporter
{
    /// <summary>The ONNX operator set the built-in mappings target.</summary>
    public const int OpsetVersion = 13;

    /// <summary>The ONNX IR version written (the one that introduced opset 13).</summary>
    public const int IrVersion = 7;

    /// <summary>The producer name written into every exported model.</summary>
    public const string ProducerName = "NeuralNet";

    /// <summary>The metadata key holding the architecture JSON.</summary>
    public const string ArchitectureKey = "neuralnet.architecture";

    /// <summary>The metadata key holding the NeuralNet version that produced the file.</summary>
    public const string VersionKey = "neuralnet.version";

    /// <summary>Writes <paramref name="model"/> to <paramref name="path"/> as an ONNX file (atomically).</summary>
    /// <param name="model">The model.</param>
    /// <param name="path">The target file, conventionally <c>*.onnx</c>; its directory must exist.</param>
    /// <param name="options">Names and metadata; defaults when null.</param>
    /// <exception cref="NotSupportedException">A module has no ONNX mapping; the message names it and its path.</exception>
    public static void Export(Sequential<float> model, string path, OnnxExportOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        byte[] bytes = ToBytes(model, options);
        AtomicFile.Write(path, s => s.Write(bytes, 0, bytes.Length));
    }

    /// <summary>Serializes <paramref name="model"/> to the bytes of an ONNX file.</summary>
    /// <param name="model">The model.</param>
    /// <param name="options">Names and metadata; defaults when null.</param>
    /// <exception cref="NotSupportedException">A module has no ONNX mapping; the message names it and its path.</exception>
    public static byte[] ToBytes(Sequential<float> model, OnnxExportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        options ??= new OnnxExportOptions();
        ArgumentException.ThrowIfNullOrWhiteSpace(options.InputName);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.OutputName);
        if (options.InputName == options.OutputName)
            throw new ArgumentException("ONNX export: the input and output names must differ.", nameof(options));

        var graph = new GraphProto { Name = "NeuralNet.Sequential" };
        graph.Input.Add(ValueInfo(options.InputName, options.BatchDimensionName, model.InputShape));
        graph.Output.Add(ValueInfo(options.OutputName, options.BatchDimensionName, model.OutputShape));
        var builder = new OnnxGraphBuilder(graph);
        builder.Reserve(options.InputName);
        builder.Reserve(options.OutputName);

        string last = OnnxExportRegistry.ExportModule(model, options.InputName, builder);
        if (graph.Node.Count > 0 && graph.Node[^1].Output.Contains(last))
            builder.RenameLastOutput(last, options.OutputName);
        else
            graph.Node.Add(new NodeProto { Name = "Identity", OpType = "Identity", Input = { last }, Output = { options.OutputName } });

        string version = Version;
        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = ProducerName,
            ProducerVersion = version,
            ModelVersion = 1,
            DocString = model.ToString(),
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = OpsetVersion });
        if (TryDescribeArchitecture(model) is { } architecture)
            proto.MetadataProps.Add(new StringStringEntryProto { Key = ArchitectureKey, Value = architecture });
        proto.MetadataProps.Add(new StringStringEntryProto { Key = VersionKey, Value = version });
        if (options.Metadata is not null)
        {
            foreach (var (key, value) in options.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                if (key.StartsWith("neuralnet.", StringComparison.Ordinal))
                    throw new ArgumentException($"ONNX export: metadata key '{key}' is reserved (prefix 'neuralnet.').", nameof(options));
                proto.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value ?? "" });
            }
        }
        return proto.ToByteArray();
    }

    // A module exported through a custom mapping may not be registered with ModelSerializer's ModuleRegistry; the file
    // is still a complete ONNX model, it only lacks the NeuralNet architecture description.
    private static string? TryDescribeArchitecture(Sequential<float> model)
    {
        try
        {
            return ModelSerializer.DescribeArchitecture(model);
        }
        catch (ArgumentException)
        {
            return null;
        }
    }

    internal static string Version =>
        typeof(OnnxExporter).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0";

    private static ValueInfoProto ValueInfo(string name, string batchName, IReadOnlyList<int> perExample)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = batchName });
        foreach (int d in perExample) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape },
            },
        };
    }
}
