using System.Globalization;
using NeuralNet.Losses;
using NeuralNet.Modules;

namespace NeuralNet.Diagnostics;

/// <summary>
/// Numerical verification of back-propagation: compares the analytic gradients a module's <c>Backward</c> produces
/// with finite differences of its <c>Forward</c>, in double precision, over the input and every parameter.
/// </summary>
/// <remarks>
/// <para>The numerical derivative of the scalar loss f with respect to one element v is the fourth-order central
/// difference n = (8·(f(v + h) − f(v − h)) − (f(v + 2h) − f(v − 2h))) / (12h), whose truncation error is O(h⁴).
/// The step is relative to the element: h = <see cref="GradientCheckOptions.Step"/> · max(|v|,
/// <see cref="GradientCheckOptions.MinimumScale"/>) (defaults 1e-3 and 1e-2). A relative step never moves a value across
/// zero (ReLU's kink) and stays small where a function is steep near small values (log p for small probabilities);
/// its rounding error is about 1e-16·|f|/h.</para>
/// <para>Relative error, per element: |a − n| / max(|a|, |n|, floor), with a the analytic value and floor
/// (<see cref="GradientCheckOptions.AbsoluteFloor"/>, default 1e-8) keeping gradients that are both (near) zero
/// from dividing by zero. A correct double-precision implementation typically scores below 1e-8; above 1e-6 is a bug
/// — or a kink (ReLU at 0, ties in max pooling, clipping edges) within 2h of the tested point.</para>
/// <para>Three forms: a single module under a random projection loss L = Σ r ⊙ Forward(x) with r drawn from
/// <see cref="GradientCheckOptions.Seed"/>; a module or whole model under a <see cref="Loss{T}"/>; and a loss alone,
/// with respect to its prediction. After the check, parameter gradients hold the analytic gradients of the check's
/// loss; the input and parameter values are restored exactly.</para>
/// <example><code>
/// var layer = new Dense&lt;double&gt;(5, 3);
/// var x = new Tensor&lt;double&gt;(4, 5); // fill with data
/// var result = GradientCheck.Check(layer, x);
/// Console.WriteLine(result); // max relative error 2.1e-11 at weight [1, 3] ...
/// </code></example>
/// </remarks>
public static class GradientCheck
{
    /// <summary>Checks one module (or a model) under the random projection loss L = Σ r ⊙ Forward(x).</summary>
    /// <param name="module">The module; it is run in training mode.</param>
    /// <param name="input">A batch the module accepts; its values are perturbed and restored.</param>
    /// <param name="options">Step, floor, seed and sampling; null for the defaults.</param>
    /// <returns>The largest relative error and where it occurred.</returns>
    public static GradientCheckResult Check(Module<double> module, NdArray<double> input, GradientCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(input);
        options ??= new GradientCheckOptions();
        var outputShape = module.Forward(input, training: true).ShapeArray();
        var projection = new NdArray<double>(outputShape);
        var random = new RandomGenerator(options.Seed);
        var r = projection.AsSpan();
        for (int i = 0; i < r.Length; i++) r[i] = 2.0 * random.NextDouble() - 1.0;
        return Run(module, input, y => Dot(y, projection), _ => projection, options);
    }

    /// <summary>Checks a module or a whole model followed by a loss against class-index labels.</summary>
    /// <param name="model">The module or model.</param>
    /// <param name="loss">The loss applied to the model's output.</param>
    /// <param name="input">A batch the model accepts.</param>
    /// <param name="labels">One label per row.</param>
    /// <param name="options">Step, floor and sampling; null for the defaults.</param>
    /// <returns>The largest relative error and where it occurred.</returns>
    public static GradientCheckResult Check(Module<double> model, Loss<double> loss, NdArray<double> input, ReadOnlySpan<int> labels,
        GradientCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(input);
        int[] l = labels.ToArray();
        return Run(model, input, y => loss.Forward(y, l), _ => loss.Backward(), options ?? new GradientCheckOptions());
    }

    /// <summary>Checks a module or a whole model followed by a loss against target rows.</summary>
    /// <param name="model">The module or model.</param>
    /// <param name="loss">The loss applied to the model's output.</param>
    /// <param name="input">A batch the model accepts.</param>
    /// <param name="target">Targets of the model output's shape.</param>
    /// <param name="options">Step, floor and sampling; null for the defaults.</param>
    /// <returns>The largest relative error and where it occurred.</returns>
    public static GradientCheckResult Check(Module<double> model, Loss<double> loss, NdArray<double> input, NdArray<double> target,
        GradientCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(target);
        return Run(model, input, y => loss.Forward(y, target), _ => loss.Backward(), options ?? new GradientCheckOptions());
    }

    /// <summary>Checks a loss alone: its <c>Backward</c> against finite differences over the prediction.</summary>
    /// <param name="loss">The loss.</param>
    /// <param name="prediction">The prediction (N, classes); its values are perturbed and restored.</param>
    /// <param name="labels">One label per row.</param>
    /// <param name="options">Step, floor and sampling; null for the defaults.</param>
    /// <returns>The largest relative error; the tensor is named <c>prediction</c>.</returns>
    public static GradientCheckResult CheckLoss(Loss<double> loss, NdArray<double> prediction, ReadOnlySpan<int> labels,
        GradientCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(prediction);
        int[] l = labels.ToArray();
        return Run(null, prediction, y => loss.Forward(y, l), _ => loss.Backward(), options ?? new GradientCheckOptions());
    }

    /// <summary>Checks a loss alone against target rows.</summary>
    /// <param name="loss">The loss.</param>
    /// <param name="prediction">The prediction (N, classes); its values are perturbed and restored.</param>
    /// <param name="target">Targets of the prediction's shape.</param>
    /// <param name="options">Step, floor and sampling; null for the defaults.</param>
    /// <returns>The largest relative error; the tensor is named <c>prediction</c>.</returns>
    public static GradientCheckResult CheckLoss(Loss<double> loss, NdArray<double> prediction, NdArray<double> target,
        GradientCheckOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(loss);
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(target);
        return Run(null, prediction, y => loss.Forward(y, target), _ => loss.Backward(), options ?? new GradientCheckOptions());
    }

    /// <summary>The relative error used throughout: |a − n| / max(|a|, |n|, floor).</summary>
    /// <param name="analytic">The back-propagated value a.</param>
    /// <param name="numeric">The finite-difference value n.</param>
    /// <param name="floor">The smallest denominator, &gt; 0.</param>
    public static double RelativeError(double analytic, double numeric, double floor = 1e-8)
    {
        double scale = Math.Max(Math.Max(Math.Abs(analytic), Math.Abs(numeric)), floor);
        double diff = Math.Abs(analytic - numeric);
        return double.IsNaN(diff) ? double.PositiveInfinity : diff / scale;
    }

    private static GradientCheckResult Run(Module<double>? model, NdArray<double> input,
        Func<NdArray<double>, double> scalar, Func<NdArray<double>, NdArray<double>> outputGradient, GradientCheckOptions options)
    {
        options.Validate();
        bool savedFlag = model?.ComputeInputGradient ?? true;
        try
        {
            if (model is not null) model.ComputeInputGradient = options.CheckInput;

            // Analytic pass.
            NdArray<double> inputGradient;
            if (model is null)
            {
                scalar(input);
                inputGradient = outputGradient(input).Clone();
            }
            else
            {
                model.ZeroGrad();
                var y = model.Forward(input, training: true);
                scalar(y);
                var dx = model.Backward(outputGradient(y));
                // Without CheckInput a Sequential returns no input gradient; the placeholder is never compared.
                inputGradient = dx?.Clone() ?? input;
            }

            var targets = new List<(string Name, int? Layer, NdArray<double> Value, NdArray<double> Analytic)>();
            if (model is null) targets.Add(("prediction", null, input, inputGradient));
            else
            {
                if (options.CheckInput) targets.Add(("input", null, input, inputGradient));
                foreach (var (name, layer, p) in EnumerateParameters(model))
                    targets.Add((name, layer, p.Value, p.Gradient.Clone()));
            }

            double Evaluate() => model is null ? scalar(input) : scalar(model.Forward(input, training: true));

            var perTensor = new List<GradientCheckEntry>();
            int checkedCount = 0;
            foreach (var (name, layer, value, analytic) in targets)
            {
                var v = value.AsSpan();
                int count = Math.Min(v.Length, options.MaxElementsPerTensor);
                GradientCheckEntry? worst = null;
                for (int s = 0; s < count; s++)
                {
                    // Evenly spaced sample when capped, so every region of the tensor is visited.
                    int i = count == v.Length ? s : (int)((long)s * v.Length / count);
                    double original = v[i];
                    double h = options.Step * Math.Max(Math.Abs(original), options.MinimumScale);
                    double Shifted(double delta)
                    {
                        value.AsSpan()[i] = original + delta;
                        return Evaluate();
                    }
                    double f1 = Shifted(h), fm1 = Shifted(-h), f2 = Shifted(2 * h), fm2 = Shifted(-2 * h);
                    value.AsSpan()[i] = original;
                    double numeric = (8.0 * (f1 - fm1) - (f2 - fm2)) / (12.0 * h);
                    double a = analytic.AsSpan()[i];
                    double err = RelativeError(a, numeric, options.AbsoluteFloor);
                    checkedCount++;
                    if (worst is null || err > worst.RelativeError)
                        worst = new GradientCheckEntry(name, layer, i, ModuleChecks.FormatIndex(value.Shape, i), a, numeric, err);
                }
                if (worst is not null) perTensor.Add(worst);
            }

            // Leave the parameter gradients as the analytic gradient of the check's loss at the original point.
            if (model is not null)
            {
                model.ZeroGrad();
                var y = model.Forward(input, training: true);
                scalar(y);
                model.Backward(outputGradient(y));
            }
            return new GradientCheckResult(perTensor, checkedCount);
        }
        finally
        {
            if (model is not null) model.ComputeInputGradient = savedFlag;
        }
    }

    private static IEnumerable<(string Name, int? Layer, Parameter<double> Parameter)> EnumerateParameters(Module<double> model)
    {
        if (model is Sequential<double> sequential)
        {
            for (int i = 0; i < sequential.Layers.Count; i++)
            {
                var layer = sequential.Layers[i];
                foreach (var (name, _, p) in EnumerateParameters(layer))
                    yield return ($"layers[{i}] ({layer.Name}).{name}", i, p);
            }
        }
        else
        {
            foreach (var p in model.Parameters) yield return (p.Name, null, p);
        }
    }

    private static double Dot(NdArray<double> a, NdArray<double> b)
    {
        if (!a.HasShape(b.Shape))
            throw new InvalidOperationException($"GradientCheck: the module's output shape changed from {b.ShapeString} to {a.ShapeString} between calls.");
        return System.Numerics.Tensors.TensorPrimitives.Dot<double>(a.Data, b.Data);
    }
}

/// <summary>Settings of a <see cref="GradientCheck"/> run.</summary>
public sealed class GradientCheckOptions
{
    /// <summary>The relative finite-difference step: an element v is perturbed by h = Step · max(|v|, <see cref="MinimumScale"/>).
    /// Default 1e-3 (the stencil is fourth order).</summary>
    public double Step { get; init; } = 1e-3;

    /// <summary>The smallest magnitude the step is scaled by, so that zeros (e.g. fresh biases) still move. Default 1e-2.</summary>
    public double MinimumScale { get; init; } = 1e-2;

    /// <summary>The smallest denominator of the relative error, &gt; 0. Default 1e-8.</summary>
    public double AbsoluteFloor { get; init; } = 1e-8;

    /// <summary>The seed of the random projection used by <see cref="GradientCheck.Check(Module{double}, NdArray{double}, GradientCheckOptions?)"/>.</summary>
    public ulong Seed { get; init; } = 1;

    /// <summary>At most this many elements per tensor are checked, evenly spaced; default all.</summary>
    public int MaxElementsPerTensor { get; init; } = int.MaxValue;

    /// <summary>Whether to check the gradient with respect to the input (default true). Ignored by <c>CheckLoss</c>.</summary>
    public bool CheckInput { get; init; } = true;

    internal void Validate()
    {
        if (!(Step > 0) || !double.IsFinite(Step))
            throw new ArgumentException($"GradientCheckOptions: Step must be positive and finite, got {Step.ToString(CultureInfo.InvariantCulture)}.");
        if (!(MinimumScale > 0) || !double.IsFinite(MinimumScale))
            throw new ArgumentException($"GradientCheckOptions: MinimumScale must be positive and finite, got {MinimumScale.ToString(CultureInfo.InvariantCulture)}.");
        if (!(AbsoluteFloor > 0) || !double.IsFinite(AbsoluteFloor))
            throw new ArgumentException($"GradientCheckOptions: AbsoluteFloor must be positive and finite, got {AbsoluteFloor.ToString(CultureInfo.InvariantCulture)}.");
        if (MaxElementsPerTensor < 1)
            throw new ArgumentException($"GradientCheckOptions: MaxElementsPerTensor must be at least 1, got {MaxElementsPerTensor}.");
    }
}

/// <summary>The worst element of one checked tensor.</summary>
/// <param name="Tensor">The tensor's name: <c>input</c>, <c>prediction</c>, a parameter name such as <c>weight</c>, or for a
/// <see cref="Sequential{T}"/> <c>layers[2] (Dense).weight</c>.</param>
/// <param name="LayerIndex">The index of the layer within a <see cref="Sequential{T}"/>, or null.</param>
/// <param name="Element">The flat (row-major) index of the element.</param>
/// <param name="Position">The element's multi-index, e.g. <c>[1, 0, 3]</c>.</param>
/// <param name="Analytic">The back-propagated derivative.</param>
/// <param name="Numeric">The finite-difference derivative.</param>
/// <param name="RelativeError">|a − n| / max(|a|, |n|, floor).</param>
public sealed record GradientCheckEntry(string Tensor, int? LayerIndex, int Element, string Position, double Analytic, double Numeric, double RelativeError)
{
    /// <inheritdoc/>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Tensor} {Position}: relative error {RelativeError:G3} (analytic {Analytic:G10}, numeric {Numeric:G10})");
}

/// <summary>The outcome of a <see cref="GradientCheck"/>: the largest relative error overall and per tensor.</summary>
public sealed class GradientCheckResult
{
    internal GradientCheckResult(IReadOnlyList<GradientCheckEntry> tensors, int elementsChecked)
    {
        Tensors = tensors;
        ElementsChecked = elementsChecked;
        Worst = tensors.Count == 0 ? null : tensors.MaxBy(t => t.RelativeError);
    }

    /// <summary>The largest relative error over every checked element (0 when nothing was checked).</summary>
    public double MaxRelativeError => Worst?.RelativeError ?? 0.0;

    /// <summary>The element with the largest relative error, or null when nothing was checked.</summary>
    public GradientCheckEntry? Worst { get; }

    /// <summary>The worst element of each checked tensor, in check order (input first, then parameters).</summary>
    public IReadOnlyList<GradientCheckEntry> Tensors { get; }

    /// <summary>How many elements were checked in all.</summary>
    public int ElementsChecked { get; }

    /// <summary>True when <see cref="MaxRelativeError"/> is below <paramref name="tolerance"/>.</summary>
    /// <param name="tolerance">The largest acceptable relative error, e.g. 1e-6.</param>
    public bool Passed(double tolerance) => MaxRelativeError < tolerance;

    /// <summary>A one-line summary naming the worst element.</summary>
    public override string ToString() => Worst is null
        ? "GradientCheck: nothing checked"
        : string.Create(CultureInfo.InvariantCulture, $"GradientCheck: max relative error {MaxRelativeError:G3} over {ElementsChecked} elements, worst at {Worst}");
}
