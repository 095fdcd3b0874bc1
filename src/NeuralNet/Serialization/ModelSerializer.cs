using System.Numerics;
using System.Text.Json;
using System.Text.Json.Nodes;
using NeuralNet.Kernels;
using NeuralNet.Modules;

namespace NeuralNet.Serialization;

/// <summary>
/// Saves a <see cref="Sequential{T}"/> model (architecture and weights) to a versioned, checksummed safetensors file,
/// and rebuilds it from one.
/// </summary>
/// <remarks>
/// <para>File content (see <see cref="SafeTensorsFile"/> for the byte layout):</para>
/// <list type="bullet">
/// <item><c>__metadata__</c>: <c>neuralnet.format</c> = <c>neuralnet.model</c>, <c>neuralnet.format_version</c> =
/// <see cref="FormatVersion"/>, <c>neuralnet.architecture</c> = a JSON document
/// <c>{"input_shape": [784], "output_shape": [10], "layers": [{"type": "Dense", "config": {"in_features": 784, ...}}, ...]}</c>,
/// and <c>neuralnet.sha256</c>, the checksum.</item>
/// <item>One tensor per parameter, named by its path: <c>layers.{i}.{parameter}</c>, e.g. <c>layers.0.weight</c>
/// (64, 784) and <c>layers.0.bias</c> (64); a nested Sequential adds <c>layers.{i}.layers.{j}.{parameter}</c>. Stored as
/// F32 for <see cref="float"/> models and F64 for <see cref="double"/> models, bit-exact.</item>
/// <item>One tensor per module buffer (<see cref="Module{T}.Buffers"/>, e.g. a batch normalization's running statistics),
/// named the same way: <c>layers.{i}.running_mean</c>, <c>layers.{i}.running_var</c>, <c>layers.{i}.num_batches_tracked</c>.</item>
/// </list>
/// <para>Before any module is built, the parameter shapes that each built-in layer's configuration declares are checked
/// against the file's tensors, so an architecture cannot make the loader allocate more than the file holds.
/// Loading then rebuilds each layer through <see cref="ModuleRegistry"/> and checks that every parameter and buffer has its
/// tensor with exactly the expected shape and that no <c>layers.*</c> tensor is left over; anything else raises
/// <see cref="InvalidDataException"/> naming the file, the layer and the tensor. Tensors outside <c>layers.</c> are
/// ignored, so training checkpoints can store optimizer state in the same file. A loaded model computes bit-identical
/// outputs to the saved one.</para>
/// <para>Saving is atomic (<see cref="AtomicFile"/>): a crash during <see cref="Save{T}"/> leaves the previous file intact.</para>
/// </remarks>
public static class ModelSerializer
{
    /// <summary>The version of the model format this library writes and the newest it reads.</summary>
    public const int FormatVersion = 1;

    /// <summary>The <c>neuralnet.format</c> value of model files.</summary>
    public const string ModelFormat = "neuralnet.model";

    /// <summary>Metadata key of the format name.</summary>
    public const string FormatKey = "neuralnet.format";

    /// <summary>Metadata key of the format version.</summary>
    public const string FormatVersionKey = "neuralnet.format_version";

    /// <summary>Metadata key of the architecture JSON.</summary>
    public const string ArchitectureKey = "neuralnet.architecture";

    /// <summary>The type name of a nested <see cref="Sequential{T}"/> in the architecture.</summary>
    public const string SequentialTypeName = "Sequential";

    /// <summary>The prefix of every parameter tensor of a model.</summary>
    public const string ParameterPrefix = "layers.";

    /// <summary>Saves the model's architecture and weights to <paramref name="path"/>, atomically.</summary>
    /// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
    /// <param name="model">The model.</param>
    /// <param name="path">The target file, conventionally <c>*.safetensors</c>; its directory must exist.</param>
    /// <param name="metadata">Optional extra string metadata (keys must not start with <c>neuralnet.</c>).</param>
    /// <exception cref="ArgumentException">A module type is not registered, or a metadata key is reserved.</exception>
    public static void Save<T>(Sequential<T> model, string path, IReadOnlyDictionary<string, string>? metadata = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var file = ToSafeTensors(model);
        if (metadata is not null)
        {
            foreach (var (key, value) in metadata)
            {
                if (key.StartsWith("neuralnet.", StringComparison.Ordinal))
                    throw new ArgumentException($"ModelSerializer: metadata key '{key}' is reserved (prefix 'neuralnet.').", nameof(metadata));
                file.Metadata[key] = value;
            }
        }
        file.Save(path);
    }

    /// <summary>Loads a <see cref="float"/> model saved by <see cref="Save{T}"/>.</summary>
    /// <param name="path">The model file.</param>
    /// <exception cref="InvalidDataException">The file is corrupt, of another format or version, or its architecture and tensors disagree.</exception>
    public static Sequential<float> Load(string path) => Load<float>(path);

    /// <summary>Loads a model saved by <see cref="Save{T}"/>, converting the stored precision to <typeparamref name="T"/> if it differs.</summary>
    /// <typeparam name="T">The element type of the rebuilt model.</typeparam>
    /// <param name="path">The model file.</param>
    /// <exception cref="InvalidDataException">The file is corrupt, of another format or version, or its architecture and tensors disagree.</exception>
    public static Sequential<T> Load<T>(string path) where T : unmanaged, IFloatingPointIeee754<T>
        => FromSafeTensors<T>(SafeTensorsFile.Load(path));

    /// <summary>Describes the model as a safetensors file in memory (metadata and one tensor per parameter), without writing it.</summary>
    /// <remarks>Checkpoints build on this: add optimizer tensors under another prefix and more metadata, then <see cref="SafeTensorsFile.Save"/>.</remarks>
    /// <exception cref="ArgumentException">A module type is not registered or two parameters share a path.</exception>
    public static SafeTensorsFile ToSafeTensors<T>(Sequential<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        var file = new SafeTensorsFile();
        file.Metadata[FormatKey] = ModelFormat;
        file.Metadata[FormatVersionKey] = FormatVersion.ToString(System.Globalization.CultureInfo.InvariantCulture);
        file.Metadata[ArchitectureKey] = DescribeArchitecture(model);
        foreach (var (name, parameter) in NamedParameters(model))
            file.Add(name, parameter.Value);
        foreach (var (name, buffer) in NamedBuffers(model))
            file.Add(name, buffer.Value);
        return file;
    }

    /// <summary>The architecture JSON stored in <c>neuralnet.architecture</c>.</summary>
    /// <exception cref="ArgumentException">A module type is not registered.</exception>
    public static string DescribeArchitecture<T>(Sequential<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        var root = DescribeSequential(model);
        root["output_shape"] = new JsonArray(model.OutputShape.Select(d => (JsonNode)d).ToArray());
        return root.ToJsonString();
    }

    /// <summary>Every parameter of the model with its tensor name (<c>layers.0.weight</c>, …), in model order.</summary>
    /// <exception cref="ArgumentException">Two parameters of one module share a name.</exception>
    public static IReadOnlyList<(string Name, Parameter<T> Parameter)> NamedParameters<T>(Sequential<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        var result = new List<(string, Parameter<T>)>();
        Collect(model, "", result);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in result)
            if (!seen.Add(name))
                throw new ArgumentException($"ModelSerializer: two parameters are both named '{name}'; parameter names must be unique within a module.", nameof(model));
        return result;
    }

    /// <summary>Every buffer of the model (<see cref="Module{T}.Buffers"/>) with its tensor name (<c>layers.1.running_mean</c>, …), in model order.</summary>
    /// <exception cref="ArgumentException">A buffer's name collides with another buffer or a parameter of its module.</exception>
    public static IReadOnlyList<(string Name, ModuleBuffer<T> Buffer)> NamedBuffers<T>(Sequential<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        var result = new List<(string, ModuleBuffer<T>)>();
        CollectBuffers(model, "", result);
        var seen = new HashSet<string>(NamedParameters(model).Select(p => p.Name), StringComparer.Ordinal);
        foreach (var (name, _) in result)
            if (!seen.Add(name))
                throw new ArgumentException($"ModelSerializer: the buffer name '{name}' is used twice (by another buffer or a parameter); names must be unique within a module.", nameof(model));
        return result;
    }

    /// <summary>Rebuilds a model from a loaded file, validating architecture, shapes and the set of parameter tensors.</summary>
    /// <typeparam name="T">The element type of the rebuilt model.</typeparam>
    /// <param name="file">A file produced by <see cref="ToSafeTensors{T}"/> (possibly with extra non-<c>layers.</c> tensors).</param>
    /// <exception cref="InvalidDataException">The metadata, architecture or tensors are wrong; the message names the file.</exception>
    public static Sequential<T> FromSafeTensors<T>(SafeTensorsFile file) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(file);
        string source = file.Source ?? "model";
        if (!file.Metadata.TryGetValue(FormatKey, out var format) || format != ModelFormat)
            throw Bad(source, $"metadata '{FormatKey}' is {(format is null ? "missing" : $"'{format}'")}; expected '{ModelFormat}'. Is this a NeuralNet model file?");
        if (!file.Metadata.TryGetValue(FormatVersionKey, out var v) || !int.TryParse(v, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int version) || version < 1)
            throw Bad(source, $"metadata '{FormatVersionKey}' is {(v is null ? "missing" : $"'{v}'")}; expected a positive integer.");
        if (version > FormatVersion)
            throw Bad(source, $"the file has model format version {version}, newer than the {FormatVersion} this library reads.");
        if (!file.Metadata.TryGetValue(ArchitectureKey, out var json))
            throw Bad(source, $"metadata '{ArchitectureKey}' is missing.");

        JsonObject root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 64 }) as JsonObject
                ?? throw Bad(source, $"the architecture in '{ArchitectureKey}' is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw Bad(source, $"the architecture in '{ArchitectureKey}' is not valid JSON: {e.Message}", e);
        }

        Sequential<T> model;
        try
        {
            CheckDeclaredParameters<T>(root, "", "model", file, source);
            model = BuildSequential<T>(root, "model", source);
            if (root["output_shape"] is JsonArray outShape)
            {
                var expected = ReadShape(outShape, "output_shape", source);
                if (!expected.AsSpan().SequenceEqual(model.OutputShape.ToArray()))
                    throw Bad(source, $"the architecture records output shape {NdArray<T>.ShapeToString(expected)} but its layers produce {NdArray<T>.ShapeToString(model.OutputShape.ToArray())}.");
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException)
        {
            // JsonObject reports duplicate keys and wrongly typed nodes this way when they are first touched.
            throw Bad(source, $"the architecture in '{ArchitectureKey}' is malformed: {e.Message}", e);
        }

        var used = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, parameter) in NamedParameters(model))
        {
            var entry = file.Find(name)
                ?? throw Bad(source, $"missing tensor '{name}' of shape {parameter.Value.ShapeString} required by {DescribeOwner(model, name)}.");
            if (!entry.Shape.SequenceEqual(parameter.Value.Shape))
                throw Bad(source, $"tensor '{name}' has shape {NdArray<T>.ShapeToString(entry.Shape)} but {DescribeOwner(model, name)} expects {parameter.Value.ShapeString}.");
            if (entry.DType is SafeTensorDType.I64 or SafeTensorDType.U64)
                throw Bad(source, $"tensor '{name}' is {entry.DType}; parameters are F32 or F64.");
            var values = entry.ToNdArray<T>();
            int bad = Finiteness.FirstNonFinite<T>(values.Data);
            if (bad >= 0)
                throw Bad(source, $"tensor '{name}' holds {values.Data[bad]} at element {bad}; parameters must be finite.");
            parameter.Value.CopyFrom(values);
            used.Add(name);
        }
        foreach (var (name, buffer) in NamedBuffers(model))
        {
            var entry = file.Find(name)
                ?? throw Bad(source, $"missing buffer tensor '{name}' of shape {buffer.Value.ShapeString} required by {DescribeOwner(model, name)} " +
                    "(its state outside the trainable parameters, e.g. running statistics); the file was written without it, so the model cannot be restored as saved.");
            if (!entry.Shape.SequenceEqual(buffer.Value.Shape))
                throw Bad(source, $"buffer tensor '{name}' has shape {NdArray<T>.ShapeToString(entry.Shape)} but {DescribeOwner(model, name)} expects {buffer.Value.ShapeString}.");
            if (entry.DType is SafeTensorDType.I64 or SafeTensorDType.U64)
                throw Bad(source, $"buffer tensor '{name}' is {entry.DType}; buffers are stored as F32 or F64.");
            var values = entry.ToNdArray<T>();
            int bad = Finiteness.FirstNonFinite<T>(values.Data);
            if (bad >= 0)
                throw Bad(source, $"buffer tensor '{name}' holds {values.Data[bad]} at element {bad}; buffers must be finite.");
            buffer.Value.CopyFrom(values);
            used.Add(name);
        }
        foreach (var t in file.Tensors)
            if (t.Name.StartsWith(ParameterPrefix, StringComparison.Ordinal) && !used.Contains(t.Name))
                throw Bad(source, $"tensor '{t.Name}' {NdArray<T>.ShapeToString(t.Shape)} matches no parameter of the architecture.");
        return model;
    }

    private static JsonObject DescribeSequential<T>(Sequential<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var layers = new JsonArray();
        foreach (var layer in model.Layers)
        {
            if (layer is Sequential<T> inner)
            {
                layers.Add(new JsonObject { ["type"] = SequentialTypeName, ["config"] = DescribeSequential(inner) });
                continue;
            }
            var (typeName, config) = ModuleRegistry.Describe(layer);
            layers.Add(new JsonObject { ["type"] = typeName, ["config"] = config });
        }
        return new JsonObject
        {
            ["input_shape"] = new JsonArray(model.InputShape.Select(d => (JsonNode)d).ToArray()),
            ["layers"] = layers,
        };
    }

    /// <summary>
    /// Checks the parameter shapes every layer declares against the file's tensors before any module is built: a
    /// constructor allocates its parameters, so a few hundred bytes of architecture must not be able to request gigabytes
    /// that the file does not hold. Every tensor in the file is already bounded by the file's length.
    /// </summary>
    private static void CheckDeclaredParameters<T>(JsonObject node, string prefix, string where, SafeTensorsFile file, string source)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (node["layers"] is not JsonArray layersNode) return;
        for (int i = 0; i < layersNode.Count; i++)
        {
            if (layersNode[i] is not JsonObject layer || layer["type"] is not JsonValue typeNode || !typeNode.TryGetValue(out string? type)
                || layer["config"] is { } c && c is not JsonObject)
                continue; // BuildSequential reports it.
            var config = layer["config"] as JsonObject ?? [];
            string at = where == "model" ? $"layer {i}" : $"{where}, layer {i}";
            string p = $"{prefix}{ParameterPrefix}{i}.";
            if (type == SequentialTypeName)
            {
                CheckDeclaredParameters<T>(config, p, at, file, source);
                continue;
            }
            var declared = ModuleRegistry.DeclaredParameterShapes<T>(type, config);
            if (declared is null) continue;
            foreach (var (name, shape) in declared)
            {
                if (Array.Exists(shape, d => d < 1)) break; // The factory rejects it before allocating.
                string tensor = p + name;
                var entry = file.Find(tensor)
                    ?? throw Bad(source, $"missing tensor '{tensor}' of shape {NdArray<T>.ShapeToString(shape)} required by {at} ({type}) of the architecture.");
                if (!entry.Shape.SequenceEqual(shape))
                    throw Bad(source, $"tensor '{tensor}' has shape {NdArray<T>.ShapeToString(entry.Shape)} but {at} ({type}) of the architecture expects {NdArray<T>.ShapeToString(shape)}.");
            }
        }
    }

    private static Sequential<T> BuildSequential<T>(JsonObject node, string where, string source) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (node["input_shape"] is not JsonArray shapeNode)
            throw Bad(source, $"the architecture of {where} has no 'input_shape' array.");
        var inputShape = ReadShape(shapeNode, $"input_shape of {where}", source);
        if (node["layers"] is not JsonArray layersNode || layersNode.Count == 0)
            throw Bad(source, $"the architecture of {where} has no non-empty 'layers' array.");
        var layers = new Module<T>[layersNode.Count];
        for (int i = 0; i < layers.Length; i++)
        {
            string at = where == "model" ? $"layer {i}" : $"{where}, layer {i}";
            if (layersNode[i] is not JsonObject layer || layer["type"] is not JsonValue typeNode || !typeNode.TryGetValue(out string? type))
                throw Bad(source, $"{at} of the architecture has no string 'type'.");
            var configNode = layer["config"];
            if (configNode is not null and not JsonObject)
                throw Bad(source, $"{at} has a 'config' that is not an object: {configNode.ToJsonString()}.");
            var config = configNode as JsonObject ?? [];
            if (type == SequentialTypeName)
            {
                layers[i] = BuildSequential<T>(config, at, source);
                continue;
            }
            try
            {
                layers[i] = ModuleRegistry.Create<T>(type, config)
                    ?? throw Bad(source, $"{at} has type '{type}', which is not registered for {typeof(T).Name}; register it with ModuleRegistry.Register before loading.");
            }
            catch (Exception e) when (e is not InvalidDataException && e is not OutOfMemoryException)
            {
                throw Bad(source, $"{at} ({type}) cannot be built from configuration {config.ToJsonString()}: {e.Message}", e);
            }
        }
        try
        {
            return new Sequential<T>(inputShape, layers);
        }
        catch (ArgumentException e)
        {
            throw Bad(source, $"the architecture of {where} is inconsistent: {e.Message}", e);
        }
    }

    private static int[] ReadShape(JsonArray node, string what, string source)
    {
        if (node.Count is 0 or > 8)
            throw Bad(source, $"{what} has {node.Count} dimensions; expected 1 to 8.");
        var shape = new int[node.Count];
        long count = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (node[i] is not JsonValue v || !v.TryGetValue(out shape[i]) || shape[i] < 1)
                throw Bad(source, $"{what} entry {i} is {node[i]?.ToJsonString() ?? "null"}; expected a positive integer.");
            count *= shape[i];
            // One example must fit an array, or every buffer sized from this shape overflows.
            if (count > Array.MaxLength)
                throw Bad(source, $"{what} {node.ToJsonString()} has more than {Array.MaxLength} elements per example.");
        }
        return shape;
    }

    private static void Collect<T>(Sequential<T> model, string prefix, List<(string, Parameter<T>)> result) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < model.Layers.Count; i++)
        {
            string p = $"{prefix}{ParameterPrefix}{i}.";
            if (model.Layers[i] is Sequential<T> inner)
                Collect(inner, p, result);
            else
                foreach (var parameter in model.Layers[i].Parameters)
                    result.Add((p + parameter.Name, parameter));
        }
    }

    private static void CollectBuffers<T>(Sequential<T> model, string prefix, List<(string, ModuleBuffer<T>)> result) where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (int i = 0; i < model.Layers.Count; i++)
        {
            string p = $"{prefix}{ParameterPrefix}{i}.";
            if (model.Layers[i] is Sequential<T> inner)
                CollectBuffers(inner, p, result);
            else
                foreach (var buffer in model.Layers[i].Buffers)
                    result.Add((p + buffer.Name, buffer));
        }
    }

    private static string DescribeOwner<T>(Sequential<T> model, string tensorName) where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Walk "layers.i.layers.j.name" down to the module that owns the parameter, for the message.
        var parts = tensorName.Split('.');
        Module<T> current = model;
        string path = "";
        for (int k = 0; k + 1 < parts.Length; k += 2)
        {
            if (current is not Sequential<T> seq || !int.TryParse(parts[k + 1], out int i) || i >= seq.Layers.Count) break;
            current = seq.Layers[i];
            path += (path.Length == 0 ? "layer " : ".") + i;
        }
        return $"{path} ({current})";
    }

    private static InvalidDataException Bad(string source, string detail, Exception? inner = null) => new($"{source}: {detail}", inner);
}
