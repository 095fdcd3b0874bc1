using NeuralNet.Modules;
using NeuralNet.Modules.Activations;

namespace NeuralNet.Onnx;

/// <summary>
/// Turns one ONNX node into a NeuralNet module (or null for a node that computes nothing at inference, such as
/// Identity). Reads attributes and constant inputs through <paramref name="node"/> and throws
/// <see cref="OnnxNode.Fail"/> for anything it cannot represent exactly.
/// </summary>
/// <param name="node">The node, its attributes, constant inputs and the per-example input shape.</param>
public delegate Module<float>? OnnxImportMapping(OnnxNode node);

/// <summary>
/// The table from ONNX operators to NeuralNet modules used by <see cref="OnnxImporter"/>. Public and replaceable so the
/// mapping of a new module is one <see cref="Register"/> call.
/// </summary>
/// <remarks>
/// Built in: Gemm and MatMul (+ a following Add of a constant bias) → Dense; Conv → Conv2D (square kernel, equal
/// strides and pads, no dilation or groups); MaxPool → MaxPool2D (no padding, ceil_mode 0); Relu, Sigmoid, Tanh;
/// Softmax over the last axis of (N, classes); Flatten (axis 1) and flattening Reshapes → Flatten; Identity → nothing.
/// BatchNormalization, AveragePool, GlobalAveragePool, LeakyRelu and Dropout are recognized and fail with "not
/// supported yet" until NeuralNet has their modules.
/// </remarks>
public static class OnnxImportRegistry
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, OnnxImportMapping> Mappings = CreateBuiltIns();

    /// <summary>The operators that currently import into a module, sorted.</summary>
    public static IReadOnlyList<string> SupportedOperators
    {
        get
        {
            lock (Gate) return Mappings.Where(kv => !NotYet.Contains(kv.Key)).Select(kv => kv.Key).Order(StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>The operators recognized but not importable until NeuralNet has their modules.</summary>
    public static IReadOnlyList<string> NotSupportedYet
    {
        get { lock (Gate) return NotYet.Order(StringComparer.Ordinal).ToArray(); }
    }

    private static readonly HashSet<string> NotYet = new(StringComparer.Ordinal)
    {
        "BatchNormalization", "AveragePool", "GlobalAveragePool", "LeakyRelu", "Dropout",
    };

    /// <summary>Registers (or replaces) the mapping of an operator of the default ONNX domain.</summary>
    /// <param name="opType">The operator, e.g. <c>BatchNormalization</c>.</param>
    /// <param name="mapping">Builds the module.</param>
    public static void Register(string opType, OnnxImportMapping mapping)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(opType);
        ArgumentNullException.ThrowIfNull(mapping);
        lock (Gate)
        {
            Mappings[opType] = mapping;
            NotYet.Remove(opType);
        }
    }

    internal static OnnxImportMapping? Find(string opType)
    {
        lock (Gate) return Mappings.GetValueOrDefault(opType);
    }

    private static Dictionary<string, OnnxImportMapping> CreateBuiltIns()
    {
        var map = new Dictionary<string, OnnxImportMapping>(StringComparer.Ordinal)
        {
            ["Gemm"] = ImportGemm,
            ["MatMul"] = ImportMatMul,
            ["Conv"] = ImportConv,
            ["MaxPool"] = ImportMaxPool,
            ["Relu"] = _ => new ReLU<float>(),
            ["Sigmoid"] = _ => new Sigmoid<float>(),
            ["Tanh"] = _ => new Tanh<float>(),
            ["Softmax"] = ImportSoftmax,
            ["Flatten"] = ImportFlatten,
            ["Reshape"] = ImportReshape,
            ["Identity"] = _ => null,
        };
        foreach (var op in new[] { "BatchNormalization", "AveragePool", "GlobalAveragePool", "LeakyRelu", "Dropout" })
            map[op] = n => throw n.Fail($"operator {n.OpType} is not supported yet: NeuralNet has no module for it in this version.");
        return map;
    }

    private static int Features(OnnxNode node)
    {
        if (node.InputShape.Count != 1)
            throw node.Fail($"expects (N, features) input, but the per-example input shape is ({string.Join(", ", node.InputShape)}); add a Flatten before it.");
        return node.InputShape[0];
    }

    private static Module<float> ImportGemm(OnnxNode node)
    {
        if (node.Float("alpha", 1f) != 1f) throw node.Fail($"alpha = {node.Float("alpha", 1f)} is not supported (only 1).");
        if (node.Float("beta", 1f) != 1f) throw node.Fail($"beta = {node.Float("beta", 1f)} is not supported (only 1).");
        if (node.Int("transA", 0) != 0) throw node.Fail("transA = 1 is not supported: the input must be (N, features).");
        long transB = node.Int("transB", 0);
        if (transB is not (0 or 1)) throw node.Fail($"transB = {transB} is out of range (0 or 1).");
        int k = Features(node);
        var b = node.RequireFloatConstant(1, "weight B");
        if (b.Shape.Count != 2) throw node.Fail($"weight B '{b.Name}' has shape {b.ShapeString}; expected rank 2.");
        int inFeatures = transB == 1 ? b.Shape[1] : b.Shape[0];
        int outFeatures = transB == 1 ? b.Shape[0] : b.Shape[1];
        if (inFeatures != k) throw node.Fail($"weight B '{b.Name}' has shape {b.ShapeString} (transB = {transB}) but the input has {k} features.");
        var c = node.Constant(2);
        if (c is not null && c.Floats is null) throw node.Fail($"bias C '{c.Name}' must be float32.");
        var dense = NewDense(node, inFeatures, outFeatures, c);
        CopyWeight(dense, b.Floats!, transposed: transB == 0);
        return dense;
    }

    private static Module<float> ImportMatMul(OnnxNode node)
    {
        int k = Features(node);
        var b = node.RequireFloatConstant(1, "weight");
        if (b.Shape.Count != 2 || b.Shape[0] != k)
            throw node.Fail($"weight '{b.Name}' has shape {b.ShapeString}; expected ({k}, out_features) for an input of {k} features.");
        int outFeatures = b.Shape[1];
        OnnxTensor? bias = null;
        if (node.TryFuseNext("Add") is { } add)
        {
            // Add is commutative: the bias may be either input.
            if (add.InputCount != 2) throw add.Fail($"Add has {add.InputCount} inputs; expected 2.");
            bias = add.Constant(1 - add.DataInputIndex)
                ?? throw add.Fail("the bias added after MatMul must be a constant.");
            if (bias.Floats is null) throw add.Fail($"bias '{bias.Name}' must be float32.");
        }
        var dense = NewDense(node, k, outFeatures, bias);
        CopyWeight(dense, b.Floats!, transposed: true);
        return dense;
    }

    private static Dense<float> NewDense(OnnxNode node, int inFeatures, int outFeatures, OnnxTensor? bias)
    {
        if (bias is not null)
        {
            bool fits = bias.Shape.Count switch
            {
                1 => bias.Shape[0] == outFeatures,
                2 => bias.Shape[0] == 1 && bias.Shape[1] == outFeatures,
                _ => false,
            };
            if (!fits) throw node.Fail($"bias '{bias.Name}' has shape {bias.ShapeString}; expected ({outFeatures}) (broadcasting other shapes is not supported).");
        }
        var dense = new Dense<float>(inFeatures, outFeatures, bias: bias is not null);
        if (bias is not null) bias.Floats!.CopyTo(dense.Bias!.Value.Data, 0);
        return dense;
    }

    // NeuralNet's Dense weight is (out, in), as PyTorch's and Gemm's B with transB = 1; MatMul's and Gemm's B with
    // transB = 0 are (in, out).
    private static void CopyWeight(Dense<float> dense, float[] b, bool transposed)
    {
        var w = dense.Weight.Value.Data;
        int o = dense.OutFeatures, i = dense.InFeatures;
        if (!transposed)
        {
            b.CopyTo(w, 0);
            return;
        }
        for (int r = 0; r < i; r++)
            for (int c = 0; c < o; c++)
                w[c * i + r] = b[r * o + c];
    }

    private static int Square(OnnxNode node, string attribute, long[]? values, int defaultValue, int min, int max)
    {
        if (values is null) return defaultValue;
        if (values.Length == 0 || values.Any(v => v != values[0]))
            throw node.Fail($"{attribute} = [{string.Join(", ", values)}] is not supported: NeuralNet needs one value for both spatial axes.");
        if (values[0] < min || values[0] > max)
            throw node.Fail($"{attribute} = [{string.Join(", ", values)}] is out of range ({min} to {max}).");
        return (int)values[0];
    }

    private static void CheckAutoPad(OnnxNode node)
    {
        string autoPad = node.String("auto_pad", "NOTSET");
        if (autoPad is not ("NOTSET" or "VALID" or ""))
            throw node.Fail($"auto_pad = {autoPad} is not supported (only NOTSET with explicit pads, or VALID).");
    }

    private static void CheckSpatialInput(OnnxNode node)
    {
        if (node.InputShape.Count != 3)
            throw node.Fail($"expects (N, C, H, W) input, but the per-example input shape is ({string.Join(", ", node.InputShape)}).");
    }

    private static Module<float> ImportConv(OnnxNode node)
    {
        CheckSpatialInput(node);
        CheckAutoPad(node);
        long group = node.Int("group", 1);
        if (group != 1) throw node.Fail($"group = {group} is not supported (only 1).");
        if (node.Ints("dilations") is { } dil && dil.Any(d => d != 1))
            throw node.Fail($"dilations = [{string.Join(", ", dil)}] are not supported (only 1).");
        var w = node.RequireFloatConstant(1, "weight");
        if (w.Shape.Count != 4 || w.Shape[2] != w.Shape[3])
            throw node.Fail($"weight '{w.Name}' has shape {w.ShapeString}; expected (out_channels, in_channels, k, k) with a square kernel.");
        int k = w.Shape[2];
        int channels = node.InputShape[0];
        if (w.Shape[1] != channels) throw node.Fail($"weight '{w.Name}' has shape {w.ShapeString} but the input has {channels} channels.");
        if (node.Ints("kernel_shape") is { } ks && (ks.Length != 2 || ks[0] != k || ks[1] != k))
            throw node.Fail($"kernel_shape = [{string.Join(", ", ks)}] disagrees with weight '{w.Name}' {w.ShapeString}.");
        int maxSide = Math.Max(node.InputShape[1], node.InputShape[2]);
        int stride = Square(node, "strides", node.Ints("strides"), 1, 1, maxSide);
        int pad = Square(node, "pads", node.Ints("pads") is { Length: 4 } or null ? node.Ints("pads") : throw node.Fail("pads must have 4 values."), 0, 0, k - 1);
        var bias = node.Constant(2);
        if (bias is not null && (bias.Floats is null || bias.Shape.Count != 1 || bias.Shape[0] != w.Shape[0]))
            throw node.Fail($"bias '{bias.Name}' has shape {bias.ShapeString}; expected ({w.Shape[0]}) float32.");
        var conv = new Conv2D<float>(channels, w.Shape[0], k, stride, pad, bias: bias is not null);
        w.Floats!.CopyTo(conv.Weight.Value.Data, 0);
        if (bias is not null) bias.Floats!.CopyTo(conv.Bias!.Value.Data, 0);
        return conv;
    }

    private static Module<float> ImportMaxPool(OnnxNode node)
    {
        CheckSpatialInput(node);
        CheckAutoPad(node);
        if (node.Int("ceil_mode", 0) != 0) throw node.Fail("ceil_mode = 1 is not supported (NeuralNet rounds the output size down).");
        if (node.Int("storage_order", 0) != 0) throw node.Fail("storage_order = 1 is not supported.");
        if (node.Ints("dilations") is { } dil && dil.Any(d => d != 1))
            throw node.Fail($"dilations = [{string.Join(", ", dil)}] are not supported (only 1).");
        if (node.Ints("pads") is { } pads && pads.Any(p => p != 0))
            throw node.Fail($"pads = [{string.Join(", ", pads)}] are not supported yet (MaxPool2D has no padding in this version).");
        var ks = node.Ints("kernel_shape") ?? throw node.Fail("kernel_shape is required.");
        if (ks.Length != 2) throw node.Fail($"kernel_shape = [{string.Join(", ", ks)}]: only 2-D pooling is supported.");
        int minSide = Math.Min(node.InputShape[1], node.InputShape[2]);
        int k = Square(node, "kernel_shape", ks, 1, 1, minSide);
        int stride = Square(node, "strides", node.Ints("strides"), 1, 1, minSide);
        return new MaxPool2D<float>(k, stride);
    }

    private static Module<float> ImportSoftmax(OnnxNode node)
    {
        long axis = node.Int("axis", node.OpsetVersion >= 13 ? -1 : 1);
        if (node.InputShape.Count != 1 || axis is not (1 or -1))
            throw node.Fail($"axis = {axis} over a per-example shape ({string.Join(", ", node.InputShape)}) is not supported: NeuralNet's Softmax normalizes the last axis of (N, classes).");
        return new Softmax<float>();
    }

    private static Module<float> ImportFlatten(OnnxNode node)
    {
        long axis = node.Int("axis", 1);
        int rank = node.InputShape.Count + 1;
        if (axis < -rank || axis > rank) throw node.Fail($"axis = {axis} is out of range for rank {rank}.");
        if (axis != 1 && axis + rank != 1)
            throw node.Fail($"axis = {axis} is not supported: only flattening everything after the batch dimension (axis 1).");
        return new Flatten<float>();
    }

    private static Module<float> ImportReshape(OnnxNode node)
    {
        if (node.Int("allowzero", 0) != 0) throw node.Fail("allowzero = 1 is not supported.");
        var shape = node.Constant(1) ?? throw node.Fail("the target shape (input 1) is missing.");
        if (shape.Int64s is null || shape.Shape.Count != 1) throw node.Fail($"the target shape '{shape.Name}' must be a 1-D int64 tensor.");
        long features = 1;
        foreach (int d in node.InputShape) features *= d;
        var s = shape.Int64s;
        bool flattens = s.Length == 2 && s[0] is 0 or -1 && (s[1] == features || (s[1] == -1 && s[0] == 0));
        if (!flattens)
            throw node.Fail($"target shape [{string.Join(", ", s)}] is not supported: only (batch, {features}) flattening reshapes such as [-1, {features}] or [0, -1] are.");
        return new Flatten<float>();
    }
}
