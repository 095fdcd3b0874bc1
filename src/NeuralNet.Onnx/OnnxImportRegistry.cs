using NeuralNet.Initialization;
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
/// strides and pads, no dilation or groups); MaxPool → MaxPool2D (equal pads up to K/2, ceil_mode 0); AveragePool →
/// AvgPool2D (pads only with count_include_pad = 1, ceil_mode 0); GlobalAveragePool → GlobalAvgPool2D (a following
/// Flatten or flattening Reshape is absorbed, since GlobalAvgPool2D already yields (N, C)); BatchNormalization →
/// BatchNorm2d on (N, C, H, W) or BatchNorm1d on (N, C), with its running statistics (inference mode only);
/// Dropout → Dropout with its ratio (inference mode only); a constant zero Pad of no width → nothing, and one padding
/// H and W equally followed by an unpadded AveragePool → AvgPool2D with that padding (PyTorch exports
/// <c>nn.AvgPool2d</c> so, count_include_pad meaning the zeros count); LeakyRelu → LeakyReLU; Relu, Sigmoid, Tanh; Softmax over
/// the last axis of (N, classes); Flatten (axis 1) and flattening Reshapes → Flatten; Identity → nothing.
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
            lock (Gate) return Mappings.Keys.Order(StringComparer.Ordinal).ToArray();
        }
    }

    /// <summary>Registers (or replaces) the mapping of an operator of the default ONNX domain.</summary>
    /// <param name="opType">The operator, e.g. <c>BatchNormalization</c>.</param>
    /// <param name="mapping">Builds the module.</param>
    public static void Register(string opType, OnnxImportMapping mapping)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(opType);
        ArgumentNullException.ThrowIfNull(mapping);
        lock (Gate) Mappings[opType] = mapping;
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
            ["AveragePool"] = ImportAveragePool,
            ["GlobalAveragePool"] = ImportGlobalAveragePool,
            ["BatchNormalization"] = ImportBatchNormalization,
            ["Dropout"] = ImportDropout,
            ["Pad"] = ImportPad,
            ["LeakyRelu"] = ImportLeakyRelu,
            ["Relu"] = _ => new ReLU<float>(),
            ["Sigmoid"] = _ => new Sigmoid<float>(),
            ["Tanh"] = _ => new Tanh<float>(),
            ["Softmax"] = ImportSoftmax,
            ["Flatten"] = ImportFlatten,
            ["Reshape"] = ImportReshape,
            ["Identity"] = _ => null,
        };
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
        // The imported tensors overwrite the weights; Zeros draws nothing, so importing leaves RandomGenerator.Default as it was.
        var dense = new Dense<float>(inFeatures, outFeatures, bias: bias is not null, initializer: Initializer.Zeros);
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
        var conv = new Conv2D<float>(channels, w.Shape[0], k, stride, pad, bias: bias is not null, initializer: Initializer.Zeros);
        w.Floats!.CopyTo(conv.Weight.Value.Data, 0);
        if (bias is not null) bias.Floats!.CopyTo(conv.Bias!.Value.Data, 0);
        return conv;
    }

    private static Module<float> ImportMaxPool(OnnxNode node)
    {
        if (node.Int("storage_order", 0) != 0) throw node.Fail("storage_order = 1 is not supported.");
        if (node.Ints("dilations") is { } dil && dil.Any(d => d != 1))
            throw node.Fail($"dilations = [{string.Join(", ", dil)}] are not supported (only 1).");
        var (k, stride, pad) = PoolWindow(node);
        return new MaxPool2D<float>(k, stride, pad);
    }

    private static Module<float> ImportAveragePool(OnnxNode node)
    {
        var (k, stride, pad) = PoolWindow(node);
        // Without padding every window lies inside the input, so count_include_pad makes no difference.
        if (pad > 0 && node.Int("count_include_pad", 0) != 1)
            throw node.Fail($"pads = {pad} with count_include_pad = 0 is not supported: AvgPool2D divides by K² including the padding (count_include_pad = 1).");
        return new AvgPool2D<float>(k, stride, pad);
    }

    // The window of MaxPool or AveragePool: a square kernel, equal strides and equal pads of at most K/2, ceil_mode 0.
    private static (int Kernel, int Stride, int Pad) PoolWindow(OnnxNode node)
    {
        CheckSpatialInput(node);
        CheckAutoPad(node);
        if (node.Int("ceil_mode", 0) != 0) throw node.Fail("ceil_mode = 1 is not supported (NeuralNet rounds the output size down).");
        var ks = node.Ints("kernel_shape") ?? throw node.Fail("kernel_shape is required.");
        if (ks.Length != 2) throw node.Fail($"kernel_shape = [{string.Join(", ", ks)}]: only 2-D pooling is supported.");
        int maxSide = Math.Max(node.InputShape[1], node.InputShape[2]);
        int k = Square(node, "kernel_shape", ks, 1, 1, maxSide);
        int stride = Square(node, "strides", node.Ints("strides"), 1, 1, maxSide);
        var pads = node.Ints("pads");
        if (pads is not null && pads.Length != 4) throw node.Fail($"pads = [{string.Join(", ", pads)}] must have 4 values.");
        int pad = Square(node, "pads", pads, 0, 0, k / 2);
        int minSide = Math.Min(node.InputShape[1], node.InputShape[2]);
        if (minSide + 2 * pad < k)
            throw node.Fail($"kernel_shape {k} with pads {pad} does not fit the input ({string.Join(", ", node.InputShape)}).");
        return (k, stride, pad);
    }

    private static Module<float>? ImportPad(OnnxNode node)
    {
        string mode = node.String("mode", "constant");
        if (mode != "constant") throw node.Fail($"mode = {mode} is not supported (only constant).");
        long[] pads;
        float value;
        if (node.OpsetVersion >= 11)
        {
            var p = node.Constant(1) ?? throw node.Fail("the pads (input 1) are missing.");
            pads = p.Int64s ?? throw node.Fail($"the pads '{p.Name}' must be int64.");
            var v = node.Constant(2);
            if (v is not null && v.Floats is not { Length: 1 }) throw node.Fail($"the constant value '{v.Name}' must be one float32 value.");
            value = v?.Floats![0] ?? 0f;
            if (node.InputCount > 3 && node.Proto.Input[3].Length > 0) throw node.Fail("the axes input is not supported.");
        }
        else
        {
            pads = node.Ints("pads") ?? throw node.Fail("the pads attribute is missing.");
            value = node.Float("value", 0f);
        }
        int rank = node.InputShape.Count + 1;
        if (pads.Length != 2 * rank) throw node.Fail($"pads has {pads.Length} values; expected {2 * rank} for rank {rank}.");
        if (pads.All(v => v == 0)) return null;
        // Only (N, C, H, W) with zero padding of N and C and the same width on every side of H and W.
        bool spatialOnly = rank == 4 && pads[0] == 0 && pads[1] == 0 && pads[4] == 0 && pads[5] == 0
            && pads[2] == pads[3] && pads[2] == pads[6] && pads[2] == pads[7] && pads[2] > 0;
        if (!spatialOnly || value != 0)
            throw node.Fail($"pads = [{string.Join(", ", pads)}] with value {value} is not supported: only zero padding of H and W by the same width before an AveragePool.");
        int pad = (int)pads[2];
        var pool = node.TryFuseNext("AveragePool")
            ?? throw node.Fail($"pads = [{string.Join(", ", pads)}] is supported only before an AveragePool (as PyTorch exports nn.AvgPool2d with padding).");
        if (pool.Ints("pads") is { } poolPads && poolPads.Any(v => v != 0))
            throw pool.Fail("an AveragePool with its own pads after a Pad is not supported.");
        var (k, stride, _) = PoolWindow(pool);
        if (pad > k / 2) throw node.Fail($"padding {pad} is more than half the AveragePool kernel {k}; AvgPool2D allows at most K/2.");
        if (Math.Min(node.InputShape[1], node.InputShape[2]) + 2 * pad < k)
            throw pool.Fail($"kernel_shape {k} does not fit the padded input.");
        return new AvgPool2D<float>(k, stride, pad);
    }

    private static Module<float> ImportGlobalAveragePool(OnnxNode node)
    {
        CheckSpatialInput(node);
        // ONNX keeps (N, C, 1, 1) and exporters flatten it next; GlobalAvgPool2D yields (N, C) already.
        if (node.TryFuseNext("Flatten") is { } flatten)
        {
            long axis = flatten.Int("axis", 1);
            if (axis is not (1 or -3)) throw flatten.Fail($"axis = {axis} after GlobalAveragePool is not supported (only 1).");
        }
        else if (node.TryFuseNext("Reshape") is { } reshape)
        {
            var shape = reshape.Constant(1) ?? throw reshape.Fail("the target shape (input 1) is missing.");
            var s = shape.Int64s;
            long c = node.InputShape[0];
            if (s is null || s.Length != 2 || s[0] is not (0 or -1) || !(s[1] == c || (s[1] == -1 && s[0] == 0)))
                throw reshape.Fail($"target shape [{string.Join(", ", s ?? [])}] after GlobalAveragePool is not supported: only (batch, {c}).");
        }
        return new GlobalAvgPool2D<float>();
    }

    private static Module<float> ImportBatchNormalization(OnnxNode node)
    {
        if (node.Int("training_mode", 0) != 0)
            throw node.Fail("training_mode = 1 is not supported: only inference-mode BatchNormalization (running statistics) imports.");
        if (node.InputShape.Count is not (1 or 3))
            throw node.Fail($"expects (N, C) or (N, C, H, W) input, but the per-example input shape is ({string.Join(", ", node.InputShape)}).");
        int c = node.InputShape[0];
        float epsilon = node.Float("epsilon", 1e-5f);
        if (!(epsilon > 0) || !float.IsFinite(epsilon)) throw node.Fail($"epsilon = {epsilon} must be positive.");
        // ONNX's momentum weighs the old statistics (default 0.9); NeuralNet's, as PyTorch's, weighs the new batch.
        float onnxMomentum = node.Float("momentum", 0.9f);
        // It only matters if the imported model is trained; a value NeuralNet cannot use (1: statistics never move)
        // falls back to PyTorch's default 0.1.
        double momentum = onnxMomentum is >= 0 and < 1 ? 1 - (double)onnxMomentum : 0.1;
        var parts = new float[4][];
        string[] what = ["scale", "bias B", "mean", "variance"];
        for (int i = 0; i < 4; i++)
        {
            var t = node.RequireFloatConstant(i + 1, what[i]);
            if (t.Shape.Count != 1 || t.Shape[0] != c)
                throw node.Fail($"the {what[i]} '{t.Name}' has shape {t.ShapeString}; expected ({c}) for {c} channels.");
            parts[i] = t.Floats!;
        }
        if (parts[3].Any(v => !(v >= 0) || !float.IsFinite(v)))
            throw node.Fail("the variance has a negative or non-finite value.");
        BatchNorm<float> bn = node.InputShape.Count == 3
            ? new BatchNorm2d<float>(c, epsilon, momentum)
            : new BatchNorm1d<float>(c, epsilon, momentum);
        parts[0].CopyTo(bn.Weight!.Value.Data, 0);
        parts[1].CopyTo(bn.Bias!.Value.Data, 0);
        parts[2].CopyTo(bn.RunningMean.Data, 0);
        parts[3].CopyTo(bn.RunningVariance.Data, 0);
        return bn;
    }

    private static Module<float> ImportDropout(OnnxNode node)
    {
        // Opset 12 made the ratio and training_mode inputs; earlier sets have a ratio attribute and is_test.
        double p = node.Float("ratio", 0.5f);
        if (node.OpsetVersion >= 12)
        {
            p = 0.5;
            if (node.Constant(1) is { } ratio)
            {
                if (ratio.Floats is not { Length: 1 }) throw node.Fail($"the ratio '{ratio.Name}' must be one float32 value.");
                p = ratio.Floats[0];
            }
            // training_mode (a bool) switches dropping on; only its absence, inference, imports.
            if (node.InputCount > 2 && node.Proto.Input[2].Length > 0)
                throw node.Fail("the training_mode input is not supported: only inference-mode Dropout (training_mode left out) imports.");
        }
        if (!(p >= 0 && p < 1)) throw node.Fail($"ratio = {p} is out of range [0, 1).");
        return new Dropout<float>(p);
    }

    private static Module<float> ImportLeakyRelu(OnnxNode node)
    {
        float alpha = node.Float("alpha", 0.01f);
        if (!float.IsFinite(alpha)) throw node.Fail($"alpha = {alpha} must be finite.");
        return new LeakyReLU<float>(alpha);
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
