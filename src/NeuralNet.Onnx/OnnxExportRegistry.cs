using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Onnx;

/// <summary>
/// Writes one module as ONNX nodes: receives the module, the name of the value it consumes and the graph, adds its
/// initializers and nodes, and returns the name of the value it produces.
/// </summary>
/// <typeparam name="TModule">The module type the mapping handles.</typeparam>
/// <param name="module">The module to export.</param>
/// <param name="input">The name of the graph value the module consumes, shaped (N, per-example shape...).</param>
/// <param name="graph">The graph being written; <see cref="OnnxGraphBuilder.ModulePath"/> is the module's path.</param>
/// <returns>The name of the value holding the module's output.</returns>
public delegate string OnnxExportMapping<in TModule>(TModule module, string input, OnnxGraphBuilder graph)
    where TModule : Module<float>;

/// <summary>
/// The table from NeuralNet module types to ONNX export mappings. The library's modules are registered on first use;
/// a new module plugs in with one <see cref="Register{TModule}"/> call (public so modules added outside this package,
/// or after it was built, can be exported without changing it).
/// </summary>
/// <remarks>
/// <para>Built-in mappings (opset 13): Dense → Gemm (transB = 1); Conv2D → Conv (explicit pads, so "same" padding is
/// pads (K − 1)/2); MaxPool2D → MaxPool (pads); AvgPool2D → AveragePool (pads, count_include_pad = 1);
/// GlobalAvgPool2D → GlobalAveragePool + Flatten (NeuralNet's output is (N, C), ONNX's (N, C, 1, 1));
/// BatchNorm1d/BatchNorm2d → BatchNormalization with the running statistics (inference); Dropout → Dropout with its
/// ratio and no training_mode (inference: the identity); Flatten → Flatten (axis 1); ReLU/Sigmoid/Tanh →
/// Relu/Sigmoid/Tanh; LeakyReLU → LeakyRelu (alpha); GELU (tanh) → Pow, Mul, Add, Tanh nodes computing
/// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (opset 13 has no Gelu); Softmax → Softmax (axis 1); Sequential → its
/// children in order.</para>
/// <para>Lookup is by the module's exact runtime type first, then its base types, so a mapping registered for a base
/// class covers subclasses that have none of their own.</para>
/// </remarks>
public static class OnnxExportRegistry
{
    private static readonly Dictionary<Type, Func<Module<float>, string, OnnxGraphBuilder, string>> Mappings = CreateBuiltIns();
    private static readonly Lock Gate = new();

    /// <summary>The module types that currently have a mapping.</summary>
    public static IReadOnlyCollection<Type> RegisteredTypes
    {
        get { lock (Gate) return Mappings.Keys.ToArray(); }
    }

    /// <summary>Registers (or replaces) the mapping of <typeparamref name="TModule"/>.</summary>
    /// <typeparam name="TModule">The module type, e.g. <c>BatchNorm2D&lt;float&gt;</c>.</typeparam>
    /// <param name="mapping">Writes the module's nodes.</param>
    public static void Register<TModule>(OnnxExportMapping<TModule> mapping) where TModule : Module<float>
    {
        ArgumentNullException.ThrowIfNull(mapping);
        lock (Gate) Mappings[typeof(TModule)] = (m, input, g) => mapping((TModule)m, input, g);
    }

    /// <summary>True when <paramref name="moduleType"/> (or one of its base types) has a mapping.</summary>
    /// <param name="moduleType">A module type.</param>
    public static bool IsRegistered(Type moduleType) => Find(moduleType) is not null;

    /// <summary>
    /// Exports <paramref name="module"/> through its mapping; container modules (such as Sequential) call this for
    /// their children after setting <see cref="OnnxGraphBuilder.ModulePath"/>.
    /// </summary>
    /// <param name="module">The module.</param>
    /// <param name="input">The name of the value it consumes.</param>
    /// <param name="graph">The graph being written.</param>
    /// <returns>The name of the value it produces.</returns>
    /// <exception cref="NotSupportedException">No mapping exists for the module's type; the message names the module and its path.</exception>
    public static string ExportModule(Module<float> module, string input, OnnxGraphBuilder graph)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(graph);
        var mapping = Find(module.GetType())
            ?? throw new NotSupportedException(
                $"ONNX export: module '{graph.ModulePath}' ({module.Name}, {module.GetType().Name}) has no ONNX mapping; register one with OnnxExportRegistry.Register.");
        return mapping(module, input, graph);
    }

    private static Func<Module<float>, string, OnnxGraphBuilder, string>? Find(Type type)
    {
        lock (Gate)
        {
            for (var t = type; t is not null; t = t.BaseType)
                if (Mappings.TryGetValue(t, out var m)) return m;
        }
        return null;
    }

    private static Dictionary<Type, Func<Module<float>, string, OnnxGraphBuilder, string>> CreateBuiltIns()
    {
        var map = new Dictionary<Type, Func<Module<float>, string, OnnxGraphBuilder, string>>();
        void Add<TModule>(OnnxExportMapping<TModule> mapping) where TModule : Module<float>
            => map[typeof(TModule)] = (m, input, g) => mapping((TModule)m, input, g);

        Add<Sequential<float>>(ExportSequential);
        Add<Dense<float>>((d, input, g) =>
        {
            var inputs = new List<string> { input, g.AddInitializer("weight", d.Weight.Value.Data, d.OutFeatures, d.InFeatures) };
            if (d.Bias is not null) inputs.Add(g.AddInitializer("bias", d.Bias.Value.Data, d.OutFeatures));
            return g.AddNode("Gemm", inputs, OnnxAttribute.Int("transB", 1));
        });
        Add<Conv2D<float>>((c, input, g) =>
        {
            var inputs = new List<string>
            {
                input,
                g.AddInitializer("weight", c.Weight.Value.Data, c.OutChannels, c.InChannels, c.KernelSize, c.KernelSize),
            };
            if (c.Bias is not null) inputs.Add(g.AddInitializer("bias", c.Bias.Value.Data, c.OutChannels));
            return g.AddNode("Conv", inputs,
                OnnxAttribute.Ints("kernel_shape", c.KernelSize, c.KernelSize),
                OnnxAttribute.Ints("strides", c.Stride, c.Stride),
                OnnxAttribute.Ints("pads", c.Padding, c.Padding, c.Padding, c.Padding),
                OnnxAttribute.Ints("dilations", 1, 1),
                OnnxAttribute.Int("group", 1));
        });
        // NeuralNet rounds the pooled size down, which is ONNX's ceil_mode = 0; MaxPool's padding never wins, as
        // ONNX's MaxPool pads behave.
        Add<MaxPool2D<float>>((p, input, g) => g.AddNode("MaxPool", [input],
            OnnxAttribute.Ints("kernel_shape", p.KernelSize, p.KernelSize),
            OnnxAttribute.Ints("strides", p.Stride, p.Stride),
            OnnxAttribute.Ints("pads", p.Padding, p.Padding, p.Padding, p.Padding),
            OnnxAttribute.Int("ceil_mode", 0)));
        // AvgPool2D divides by K² even where the window covers padding: count_include_pad = 1.
        Add<AvgPool2D<float>>((p, input, g) => g.AddNode("AveragePool", [input],
            OnnxAttribute.Ints("kernel_shape", p.KernelSize, p.KernelSize),
            OnnxAttribute.Ints("strides", p.Stride, p.Stride),
            OnnxAttribute.Ints("pads", p.Padding, p.Padding, p.Padding, p.Padding),
            OnnxAttribute.Int("count_include_pad", 1),
            OnnxAttribute.Int("ceil_mode", 0)));
        // GlobalAveragePool keeps (N, C, 1, 1); NeuralNet's GlobalAvgPool2D yields (N, C), hence the Flatten.
        Add<GlobalAvgPool2D<float>>((_, input, g) =>
            g.AddNode("Flatten", [g.AddNode("GlobalAveragePool", [input])], OnnxAttribute.Int("axis", 1)));
        Add<BatchNorm<float>>(ExportBatchNorm);
        // Opset 13's Dropout is the identity unless its training_mode input is true; it is left out, so the graph
        // computes the inference output and still records p for an importer.
        Add<Dropout<float>>((d, input, g) => g.AddNode("Dropout", [input, g.AddInitializer("ratio", [(float)d.P])]));
        Add<Flatten<float>>((_, input, g) => g.AddNode("Flatten", [input], OnnxAttribute.Int("axis", 1)));
        Add<LeakyReLU<float>>((a, input, g) => g.AddNode("LeakyRelu", [input], OnnxAttribute.Float("alpha", (float)a.NegativeSlope)));
        Add<GELU<float>>(ExportGelu);
        Add<ReLU<float>>((_, input, g) => g.AddNode("Relu", [input]));
        Add<Sigmoid<float>>((_, input, g) => g.AddNode("Sigmoid", [input]));
        Add<Tanh<float>>((_, input, g) => g.AddNode("Tanh", [input]));
        // NeuralNet's Softmax normalizes each row of an (N, classes) batch: axis 1.
        Add<Softmax<float>>((_, input, g) => g.AddNode("Softmax", [input], OnnxAttribute.Int("axis", 1)));
        return map;
    }

    // Evaluation-mode batch normalization: y = scale·(x − mean)/√(var + ε) + B, which is what the module computes
    // outside training. ONNX's momentum (the weight of the old statistics) only matters in training; it is written as
    // 1 − Momentum so the file says what PyTorch's export says. A layer without affine gets constant γ = 1, β = 0.
    private static string ExportBatchNorm(BatchNorm<float> bn, string input, OnnxGraphBuilder g)
    {
        int c = bn.NumFeatures;
        string scale, bias;
        if (bn.Affine)
        {
            scale = g.AddInitializer("weight", bn.Weight!.Value.Data, c);
            bias = g.AddInitializer("bias", bn.Bias!.Value.Data, c);
        }
        else
        {
            scale = g.AddInitializer("unit_scale", Enumerable.Repeat(1f, c).ToArray(), c);
            bias = g.AddInitializer("zero_bias", new float[c], c);
        }
        string mean = g.AddInitializer("running_mean", bn.RunningMean.Data, c);
        string variance = g.AddInitializer("running_var", bn.RunningVariance.Data, c);
        return g.AddNode("BatchNormalization", [input, scale, bias, mean, variance],
            OnnxAttribute.Float("epsilon", (float)bn.Epsilon),
            OnnxAttribute.Float("momentum", (float)(1 - bn.Momentum)));
    }

    // y = 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), node by node in the module's order of operations.
    private static string ExportGelu(GELU<float> gelu, string x, OnnxGraphBuilder g)
    {
        string cube = g.AddNode("Pow", [x, g.AddInitializer("gelu_three", [3f])]);
        string scaledCube = g.AddNode("Mul", [cube, g.AddInitializer("gelu_coefficient", [0.044715f])]);
        string inner = g.AddNode("Add", [x, scaledCube]);
        string argument = g.AddNode("Mul", [inner, g.AddInitializer("gelu_sqrt_2_over_pi", [(float)Math.Sqrt(2 / Math.PI)])]);
        string t = g.AddNode("Tanh", [argument]);
        string onePlusT = g.AddNode("Add", [t, g.AddInitializer("gelu_one", [1f])]);
        string halfX = g.AddNode("Mul", [x, g.AddInitializer("gelu_half", [0.5f])]);
        return g.AddNode("Mul", [halfX, onePlusT]);
    }

    private static string ExportSequential(Sequential<float> model, string input, OnnxGraphBuilder graph)
    {
        string path = graph.ModulePath;
        string value = input;
        for (int i = 0; i < model.Layers.Count; i++)
        {
            graph.ModulePath = path.Length == 0 ? i.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{path}.{i}";
            value = ExportModule(model.Layers[i], value, graph);
        }
        graph.ModulePath = path;
        return value;
    }
}
