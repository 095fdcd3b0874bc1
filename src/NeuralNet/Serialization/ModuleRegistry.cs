using System.Collections.Concurrent;
using System.Numerics;
using System.Text.Json.Nodes;
using NeuralNet.Initialization;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Serialization;

/// <summary>
/// Maps module types to the names and JSON configurations under which <see cref="ModelSerializer"/> stores them, and
/// back to factories that rebuild them: the extension point for user-defined modules.
/// </summary>
/// <remarks>
/// <para>Built in, for <see cref="float"/> and <see cref="double"/>: <c>Dense</c> {in_features, out_features, bias},
/// <c>Conv2D</c> {in_channels, out_channels, kernel_size, stride, padding, bias}, <c>MaxPool2D</c> {kernel_size, stride,
/// padding (omitted when 0)}, <c>AvgPool2D</c> {kernel_size, stride, padding}, <c>GlobalAvgPool2D</c>, <c>BatchNorm1d</c> and
/// <c>BatchNorm2d</c> {num_features, eps, momentum, affine}, <c>Dropout</c> {p}, <c>LeakyReLU</c> {negative_slope},
/// <c>GELU</c> {approximate: "tanh"}, <c>Flatten</c>, <c>Sigmoid</c>, <c>Tanh</c>, <c>ReLU</c>, <c>Softmax</c> (no
/// configuration) and nested <c>Sequential</c> (handled by the serializer itself). Buffers are saved and restored by name
/// like parameters.</para>
/// <para>A user module registers once per element type it is used with, typically at start-up:
/// <code>
/// ModuleRegistry.Register&lt;Scale&lt;float&gt;, float&gt;("Scale",
///     m =&gt; new JsonObject { ["factor"] = m.Factor },
///     c =&gt; new Scale&lt;float&gt;((float)c["factor"]!));
/// </code>
/// Its parameters are saved and restored by name through <see cref="Module{T}.Parameters"/>; the factory only has to
/// rebuild a module with parameters of the right shapes. Exceptions thrown by a factory while loading are reported as
/// <see cref="System.IO.InvalidDataException"/> naming the file and the layer.</para>
/// <para>The registry is thread-safe.</para>
/// </remarks>
public static class ModuleRegistry
{
    private sealed record Entry(string TypeName, Type ModuleType, Func<object, JsonObject> Describe, Func<JsonObject, object> Create,
        Func<JsonObject, (string Name, int[] Shape)[]>? ParameterShapes = null);

    private static readonly ConcurrentDictionary<Type, Entry> ByType = new();
    private static readonly ConcurrentDictionary<(string, Type), Entry> ByName = new();
    private static readonly object Gate = new();

    static ModuleRegistry()
    {
        RegisterBuiltIns<float>();
        RegisterBuiltIns<double>();
    }

    /// <summary>Registers a module type under <paramref name="typeName"/> for element type <typeparamref name="T"/>.</summary>
    /// <typeparam name="TModule">The concrete module type, e.g. <c>Scale&lt;float&gt;</c>.</typeparam>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="typeName">The name stored in model files; unique per element type.</param>
    /// <param name="describe">Returns the module's configuration (everything but its parameters) as a JSON object.</param>
    /// <param name="create">Builds a module from that configuration; its parameter values are overwritten afterwards.</param>
    /// <exception cref="ArgumentException">The name is empty or <c>Sequential</c>, or already used by another module type.</exception>
    public static void Register<TModule, T>(string typeName, Func<TModule, JsonObject> describe, Func<JsonObject, TModule> create)
        where TModule : Module<T>
        where T : unmanaged, IFloatingPointIeee754<T>
        => Register<TModule, T>(typeName, describe, create, parameterShapes: null);

    private static void Register<TModule, T>(string typeName, Func<TModule, JsonObject> describe, Func<JsonObject, TModule> create,
        Func<JsonObject, (string Name, int[] Shape)[]>? parameterShapes)
        where TModule : Module<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(typeName);
        ArgumentNullException.ThrowIfNull(describe);
        ArgumentNullException.ThrowIfNull(create);
        if (typeName == ModelSerializer.SequentialTypeName)
            throw new ArgumentException("ModuleRegistry: 'Sequential' is reserved; nested Sequential modules are handled by the serializer.", nameof(typeName));
        var entry = new Entry(typeName, typeof(TModule), m => describe((TModule)m), c => create(c), parameterShapes);
        lock (Gate)
        {
            if (ByName.TryGetValue((typeName, typeof(T)), out var existing) && existing.ModuleType != typeof(TModule))
                throw new ArgumentException($"ModuleRegistry: '{typeName}' is already registered for {typeof(T).Name} by {existing.ModuleType}.", nameof(typeName));
            if (ByType.TryGetValue(typeof(TModule), out var old))
                ByName.TryRemove((old.TypeName, typeof(T)), out _);
            ByType[typeof(TModule)] = entry;
            ByName[(typeName, typeof(T))] = entry;
        }
    }

    /// <summary>True when a module named <paramref name="typeName"/> can be rebuilt for element type <typeparamref name="T"/>.</summary>
    public static bool IsRegistered<T>(string typeName) where T : unmanaged, IFloatingPointIeee754<T>
        => typeName == ModelSerializer.SequentialTypeName || ByName.ContainsKey((typeName, typeof(T)));

    /// <summary>The stored name and configuration of <paramref name="module"/>.</summary>
    /// <exception cref="ArgumentException">The module's type is not registered.</exception>
    internal static (string TypeName, JsonObject Config) Describe<T>(Module<T> module) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!ByType.TryGetValue(module.GetType(), out var entry))
            throw new ArgumentException($"ModelSerializer: module type {module.GetType()} ('{module.Name}') is not registered; call ModuleRegistry.Register for it before saving.", nameof(module));
        return (entry.TypeName, entry.Describe(module));
    }

    /// <summary>Rebuilds a module; null when the name is unknown.</summary>
    internal static Module<T>? Create<T>(string typeName, JsonObject config) where T : unmanaged, IFloatingPointIeee754<T>
        => ByName.TryGetValue((typeName, typeof(T)), out var entry) ? (Module<T>)entry.Create(config) : null;

    private static JsonObject DescribeBatchNorm<T>(BatchNorm<T> m) where T : unmanaged, IFloatingPointIeee754<T> => new()
    {
        ["num_features"] = m.NumFeatures, ["eps"] = m.Epsilon, ["momentum"] = m.Momentum, ["affine"] = m.Affine,
    };

    /// <summary>
    /// The parameters (name and shape) a module of type <paramref name="typeName"/> would allocate for
    /// <paramref name="config"/>, computed without building it; null when the type declares no such function (user
    /// modules) or the configuration cannot be read (the factory then reports it).
    /// </summary>
    internal static (string Name, int[] Shape)[]? DeclaredParameterShapes<T>(string typeName, JsonObject config) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!ByName.TryGetValue((typeName, typeof(T)), out var entry) || entry.ParameterShapes is null) return null;
        try
        {
            return entry.ParameterShapes(config);
        }
        catch (FormatException)
        {
            return null;
        }
    }

    private static void RegisterBuiltIns<T>() where T : unmanaged, IFloatingPointIeee754<T>
    {
        // The parameter-shape functions let the loader check a file's tensors before a factory allocates anything.
        static (string, int[])[] WithBias(bool bias, int biasLength, params int[] weightShape)
            => bias ? [("weight", weightShape), ("bias", [biasLength])] : [("weight", weightShape)];
        // Buffers are stored beside the parameters under the same prefix, so they are checked the same way.
        static (string, int[])[] BatchNormShapes(JsonObject c)
        {
            int n = ConfigReader.Int(c, "num_features");
            (string, int[])[] buffers = [("running_mean", [n]), ("running_var", [n]), ("num_batches_tracked", [1])];
            return ConfigReader.Bool(c, "affine") ? [("weight", [n]), ("bias", [n]), .. buffers] : buffers;
        }
        Register<Dense<T>, T>("Dense",
            m => new JsonObject { ["in_features"] = m.InFeatures, ["out_features"] = m.OutFeatures, ["bias"] = m.HasBias },
            c => new Dense<T>(ConfigReader.Int(c, "in_features"), ConfigReader.Int(c, "out_features"), ConfigReader.Bool(c, "bias"),
                // The loaded tensors overwrite the initial weights; Zeros draws nothing, so loading leaves RandomGenerator.Default as it was.
                initializer: Initializer.Zeros),
            c => WithBias(ConfigReader.Bool(c, "bias"), ConfigReader.Int(c, "out_features"),
                ConfigReader.Int(c, "out_features"), ConfigReader.Int(c, "in_features")));
        Register<Conv2D<T>, T>("Conv2D",
            m => new JsonObject
            {
                ["in_channels"] = m.InChannels, ["out_channels"] = m.OutChannels, ["kernel_size"] = m.KernelSize,
                ["stride"] = m.Stride, ["padding"] = m.Padding, ["bias"] = m.HasBias,
            },
            c => new Conv2D<T>(ConfigReader.Int(c, "in_channels"), ConfigReader.Int(c, "out_channels"), ConfigReader.Int(c, "kernel_size"),
                ConfigReader.Int(c, "stride"), ConfigReader.Int(c, "padding"), ConfigReader.Bool(c, "bias"), initializer: Initializer.Zeros),
            c => WithBias(ConfigReader.Bool(c, "bias"), ConfigReader.Int(c, "out_channels"),
                ConfigReader.Int(c, "out_channels"), ConfigReader.Int(c, "in_channels"), ConfigReader.Int(c, "kernel_size"), ConfigReader.Int(c, "kernel_size")));
        // MaxPool2D stores "padding" only when it is not 0, so files of unpadded pools stay as they were.
        Register<MaxPool2D<T>, T>("MaxPool2D",
            m => m.Padding == 0
                ? new JsonObject { ["kernel_size"] = m.KernelSize, ["stride"] = m.Stride }
                : new JsonObject { ["kernel_size"] = m.KernelSize, ["stride"] = m.Stride, ["padding"] = m.Padding },
            c => new MaxPool2D<T>(ConfigReader.Int(c, "kernel_size"), ConfigReader.Int(c, "stride"),
                c.ContainsKey("padding") ? ConfigReader.Int(c, "padding") : 0));
        Register<AvgPool2D<T>, T>("AvgPool2D",
            m => new JsonObject { ["kernel_size"] = m.KernelSize, ["stride"] = m.Stride, ["padding"] = m.Padding },
            c => new AvgPool2D<T>(ConfigReader.Int(c, "kernel_size"), ConfigReader.Int(c, "stride"), ConfigReader.Int(c, "padding")));
        Register<GlobalAvgPool2D<T>, T>("GlobalAvgPool2D", _ => [], _ => new GlobalAvgPool2D<T>());
        Register<BatchNorm1d<T>, T>("BatchNorm1d", DescribeBatchNorm,
            c => new BatchNorm1d<T>(ConfigReader.Int(c, "num_features"), ConfigReader.Double(c, "eps"), ConfigReader.Double(c, "momentum"), ConfigReader.Bool(c, "affine")),
            BatchNormShapes);
        Register<BatchNorm2d<T>, T>("BatchNorm2d", DescribeBatchNorm,
            c => new BatchNorm2d<T>(ConfigReader.Int(c, "num_features"), ConfigReader.Double(c, "eps"), ConfigReader.Double(c, "momentum"), ConfigReader.Bool(c, "affine")),
            BatchNormShapes);
        // Dropout's generator is not part of the model: a loaded model evaluates (no masks), and training it further
        // draws masks from a generator seeded with 0 unless the layer is rebuilt with another.
        Register<Dropout<T>, T>("Dropout", m => new JsonObject { ["p"] = m.P }, c => new Dropout<T>(ConfigReader.Double(c, "p")));
        Register<LeakyReLU<T>, T>("LeakyReLU", m => new JsonObject { ["negative_slope"] = m.NegativeSlope },
            c => new LeakyReLU<T>(ConfigReader.Double(c, "negative_slope")));
        Register<GELU<T>, T>("GELU", m => new JsonObject { ["approximate"] = m.Approximate }, c =>
            ConfigReader.String(c, "approximate") == "tanh" ? new GELU<T>()
                : throw new FormatException($"GELU: approximation '{ConfigReader.String(c, "approximate")}' is not supported; only 'tanh'."));
        Register<Flatten<T>, T>("Flatten", _ => [], _ => new Flatten<T>());
        Register<Sigmoid<T>, T>("Sigmoid", _ => [], _ => new Sigmoid<T>());
        Register<Tanh<T>, T>("Tanh", _ => [], _ => new Tanh<T>());
        Register<ReLU<T>, T>("ReLU", _ => [], _ => new ReLU<T>());
        Register<Softmax<T>, T>("Softmax", _ => [], _ => new Softmax<T>());
    }
}

/// <summary>Typed reads from a module configuration, failing with a message that names the key.</summary>
public static class ConfigReader
{
    /// <summary>Reads an integer property.</summary>
    /// <exception cref="FormatException">The property is missing or not an integer.</exception>
    public static int Int(JsonObject config, string key)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config[key] is JsonValue v && v.TryGetValue(out int i)) return i;
        throw new FormatException($"configuration key '{key}' is {Describe(config[key])}; expected an integer.");
    }

    /// <summary>Reads a Boolean property.</summary>
    /// <exception cref="FormatException">The property is missing or not a Boolean.</exception>
    public static bool Bool(JsonObject config, string key)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config[key] is JsonValue v && v.TryGetValue(out bool b)) return b;
        throw new FormatException($"configuration key '{key}' is {Describe(config[key])}; expected true or false.");
    }

    /// <summary>Reads a string property.</summary>
    /// <exception cref="FormatException">The property is missing or not a string.</exception>
    public static string String(JsonObject config, string key)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config[key] is JsonValue v && v.TryGetValue(out string? s)) return s;
        throw new FormatException($"configuration key '{key}' is {Describe(config[key])}; expected a string.");
    }

    /// <summary>Reads a floating-point property.</summary>
    /// <exception cref="FormatException">The property is missing or not a number.</exception>
    public static double Double(JsonObject config, string key)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config[key] is JsonValue v && v.TryGetValue(out double d)) return d;
        throw new FormatException($"configuration key '{key}' is {Describe(config[key])}; expected a number.");
    }

    private static string Describe(JsonNode? node) => node is null ? "missing" : node.ToJsonString();
}
