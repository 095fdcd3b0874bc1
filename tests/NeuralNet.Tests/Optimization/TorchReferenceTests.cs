using System.Numerics;
using System.Text.Json;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Tests.TestSupport;

namespace NeuralNet.Tests.Optimization;

/// <summary>
/// Optimizers, schedules and gradient clipping against trajectories computed by torch 1.13
/// (tests/NeuralNet.Tests/Fixtures/optim/make_optim_fixtures.py writes the JSON files read here).
/// </summary>
/// <remarks>
/// Optimizer cases: three parameters in two groups (weight decay per group), 25 steps with gradients drawn once and a learning
/// rate that changes every step in both groups. float64 must agree within 1e-10 relative, float32 within 1e-5.
/// </remarks>
public class TorchReferenceTests
{
    private static readonly Lazy<JsonElement> Optimizers = new(() => Load("optimizers.json"));
    private static readonly Lazy<JsonElement> Schedules = new(() => Load("schedules.json"));
    private static readonly Lazy<JsonElement> Clipping = new(() => Load("clipping.json"));

    private static JsonElement Load(string name) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "NeuralNet.Tests", "Fixtures", "optim", name))).RootElement;

    public static TheoryData<string> OptimizerCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Load("optimizers.json").GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    public static TheoryData<string> ScheduleCases()
    {
        var data = new TheoryData<string>();
        foreach (var c in Load("schedules.json").GetProperty("cases").EnumerateArray()) data.Add(c.GetProperty("name").GetString()!);
        return data;
    }

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void Optimizer_Float64_MatchesTorchWithin1e10(string name) => RunOptimizerCase<double>(name, "float64", 1e-10);

    [Theory]
    [MemberData(nameof(OptimizerCases))]
    public void Optimizer_Float32_MatchesTorchWithin1e5(string name) => RunOptimizerCase<float>(name, "float32", 1e-5);

    private static void RunOptimizerCase<T>(string name, string dtype, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var root = Optimizers.Value;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var shapes = root.GetProperty("shapes").EnumerateArray().Select(s => s.EnumerateArray().Select(d => d.GetInt32()).ToArray()).ToArray();
        var init = Doubles2(root.GetProperty("init"));
        var parameters = shapes.Select((s, i) => new Parameter<T>("p" + i, new NdArray<T>(init[i].Select(T.CreateTruncating).ToArray(), s))).ToArray();
        var decays = c.GetProperty("decays").EnumerateArray().Select(d => d.GetDouble()).ToArray();
        var groupIndices = root.GetProperty("groups").EnumerateArray().Select(g => g.EnumerateArray().Select(i => i.GetInt32()).ToArray()).ToArray();
        var rates = Doubles2(root.GetProperty("rates"));
        var groups = groupIndices.Select((idx, g) => new ParameterGroup<T>(idx.Select(i => parameters[i]), rates[0][g], decays[g])).ToArray();
        var optimizer = Create(c.GetProperty("kind").GetString()!, c.GetProperty("hyper"), groups, rates[0][0]);

        var grads = root.GetProperty("grads");
        var expected = c.GetProperty(dtype);
        int steps = root.GetProperty("steps").GetInt32();
        steps.Should().BeGreaterThanOrEqualTo(20);
        for (int t = 0; t < steps; t++)
        {
            for (int g = 0; g < groups.Length; g++) groups[g].LearningRate = rates[t][g];
            var stepGrads = Doubles2(grads[t]);
            for (int i = 0; i < parameters.Length; i++)
                stepGrads[i].Select(T.CreateTruncating).ToArray().CopyTo(parameters[i].Gradient.Data, 0);
            optimizer.Step();
            var want = Doubles2(expected[t]);
            for (int i = 0; i < parameters.Length; i++)
            {
                // Relative to the element, with the tensor's largest magnitude as the floor: an element that passes near zero
                // carries the rounding of the O(1) values it was computed from.
                double scale = want[i].Max(Math.Abs);
                for (int k = 0; k < want[i].Length; k++)
                {
                    double got = double.CreateTruncating(parameters[i].Value.Data[k]);
                    double error = Math.Abs(got - want[i][k]) / Math.Max(Math.Abs(want[i][k]), scale);
                    error.Should().BeLessThanOrEqualTo(tolerance,
                        $"{name} ({dtype}) step {t + 1}, parameter {i} element {k}: got {got:R}, torch {want[i][k]:R}");
                }
            }
        }
    }

    internal static Optimizer<T> Create<T>(string kind, JsonElement hyper, ParameterGroup<T>[] groups, double learningRate)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        double Get(string key, double fallback) => hyper.TryGetProperty(key, out var v) ? v.GetDouble() : fallback;
        bool Flag(string key) => hyper.TryGetProperty(key, out var v) && v.GetBoolean();
        double Beta(int i, double fallback) => hyper.TryGetProperty("betas", out var b) ? b[i].GetDouble() : fallback;
        return kind switch
        {
            "Sgd" => new Sgd<T>(groups, learningRate, Get("momentum", 0), dampening: Get("dampening", 0), nesterov: Flag("nesterov")),
            "Adam" => new Adam<T>(groups, learningRate, Beta(0, 0.9), Beta(1, 0.999), Get("eps", 1e-8), amsGrad: Flag("amsgrad")),
            "AdamW" => new AdamW<T>(groups, learningRate, Beta(0, 0.9), Beta(1, 0.999), Get("eps", 1e-8), amsGrad: Flag("amsgrad")),
            "RmsProp" => new RmsProp<T>(groups, learningRate, Get("alpha", 0.99), Get("eps", 1e-8), momentum: Get("momentum", 0), centered: Flag("centered")),
            _ => throw new ArgumentException($"unknown optimizer {kind}"),
        };
    }

    [Theory]
    [MemberData(nameof(ScheduleCases))]
    public void Schedule_MatchesTorchTrace(string name)
    {
        var c = Schedules.Value.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var p = c.GetProperty("params");
        var bases = c.GetProperty("base").EnumerateArray().Select(b => b.GetDouble()).ToArray();
        var groups = bases.Select(b => new ParameterGroup<double>([new Parameter<double>("w", new NdArray<double>(1))], b)).ToArray();
        Optimizer<double> sgd = c.GetProperty("optimizer").GetString() == "adam"
            ? new Adam<double>(groups, bases[0])
            : new Sgd<double>(groups, bases[0], momentum: 0.9);
        double D(string key) => p.GetProperty(key).GetDouble();
        int I(string key) => p.GetProperty(key).GetInt32();
        bool cycle = p.TryGetProperty("cycle_momentum", out var cm) && cm.GetBoolean();
        LearningRateSchedule schedule = name switch
        {
            "step" => new StepDecaySchedule(sgd, D("gamma"), I("step_size")),
            "exponential" => new ExponentialSchedule(sgd, D("gamma")),
            _ when name.StartsWith("cosine", StringComparison.Ordinal) => new CosineAnnealingSchedule(sgd, I("t_max"), D("eta_min")),
            _ when name.StartsWith("warm_restarts", StringComparison.Ordinal) => new CosineAnnealingWarmRestartsSchedule(sgd, I("t_0"), I("t_mult"), D("eta_min")),
            "linear_warmup" => new LinearWarmupSchedule(sgd, I("warmup"), D("start_factor")),
            "warmup_then_cosine" => new LinearWarmupSchedule(new CosineAnnealingSchedule(sgd, I("t_max"), D("eta_min")), I("warmup"), D("start_factor")),
            "warmup_then_step" => new LinearWarmupSchedule(new StepDecaySchedule(sgd, D("gamma"), I("step_size")), I("warmup"), D("start_factor")),
            _ when name.StartsWith("onecycle", StringComparison.Ordinal) => new OneCycleSchedule(sgd, I("total"), null, D("pct_start"),
                p.GetProperty("anneal").GetString() == "cos" ? AnnealStrategy.Cos : AnnealStrategy.Linear, D("div"), D("final_div"),
                p.GetProperty("three_phase").GetBoolean(), cycle,
                cycle ? D("base_momentum") : 0.85, cycle ? D("max_momentum") : 0.95),
            _ => throw new ArgumentException($"unknown schedule case {name}"),
        };
        sgd.Schedule.Should().BeSameAs(schedule);
        var lrs = Doubles2(c.GetProperty("lrs"));
        var momenta = c.GetProperty("momenta").EnumerateArray().Select(m => m.GetDouble()).ToArray();
        lrs.Length.Should().BeGreaterThan(7);
        // OneCycle's rate after its N-th (last allowed) step is η_min here, torch's an extrapolation: compared separately.
        int compared = schedule is OneCycleSchedule ? lrs.Length - 1 : lrs.Length;
        for (int t = 0; t < compared; t++)
        {
            if (t > 0) schedule.Step();
            for (int g = 0; g < bases.Length; g++)
            {
                double got = sgd.Groups[g].LearningRate, want = lrs[t][g];
                Math.Abs(got - want).Should().BeLessThanOrEqualTo(1e-12 * Math.Max(Math.Abs(want), 1e-6),
                    $"{name} after {t} steps, group {g}: got {got:R}, torch {want:R}");
            }
            if (cycle)
                Math.Abs(sgd.ScheduledMomentum - momenta[t]).Should().BeLessThanOrEqualTo(1e-12,
                    $"{name} momentum after {t} steps: got {sgd.ScheduledMomentum:R}, torch {momenta[t]:R}");
        }
        if (!cycle && sgd is Sgd<double> plain) plain.Momentum.Should().Be(0.9, "without cycling the momentum stays as configured");
        if (schedule is OneCycleSchedule oneCycle)
        {
            schedule.Step();
            for (int g = 0; g < bases.Length; g++)
                sgd.Groups[g].LearningRate.Should().Be(bases[g] / oneCycle.DivFactor / oneCycle.FinalDivFactor, "the rate after the cycle is η_min");
        }
    }

    [Fact]
    public void OneCycle_SteppingPastTheCycle_Throws()
    {
        var sgd = ScheduleTests.Opt(0.1);
        var s = new OneCycleSchedule(sgd, totalSteps: 3);
        for (int i = 0; i < 3; i++) s.Step();
        FluentActions.Invoking(s.Step).Should().Throw<InvalidOperationException>().WithMessage("*4 times*3 steps*");
    }

    [Theory]
    [InlineData("norm_clipped")]
    [InlineData("norm_unclipped")]
    [InlineData("inf_clipped")]
    [InlineData("value")]
    public void Clipping_MatchesTorch(string name)
    {
        RunClipping<double>(name, "float64", 1e-10);
        RunClipping<float>(name, "float32", 1e-5);
    }

    private static void RunClipping<T>(string name, string dtype, double tolerance) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var root = Clipping.Value;
        var c = root.GetProperty("cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var shapes = root.GetProperty("shapes").EnumerateArray().Select(s => s.EnumerateArray().Select(d => d.GetInt32()).ToArray()).ToArray();
        var raw = Doubles2(c.GetProperty("grads"));
        var parameters = shapes.Select((s, i) =>
        {
            var p = new Parameter<T>("p" + i, new NdArray<T>(s));
            raw[i].Select(T.CreateTruncating).ToArray().CopyTo(p.Gradient.Data, 0);
            return p;
        }).ToArray();
        var expected = c.GetProperty(dtype);
        if (name == "value")
        {
            GradientClipping.ClipByValue(parameters, c.GetProperty("clip_value").GetDouble());
        }
        else
        {
            double normType = c.GetProperty("norm_type").ValueKind == JsonValueKind.String ? double.PositiveInfinity : c.GetProperty("norm_type").GetDouble();
            double total = GradientClipping.ClipByNorm(parameters, c.GetProperty("max_norm").GetDouble(), normType);
            double want = expected.GetProperty("total_norm").GetDouble();
            Math.Abs(total - want).Should().BeLessThanOrEqualTo(tolerance * want, $"{name} ({dtype}) total norm: got {total:R}, torch {want:R}");
        }
        var grads = Doubles2(expected.GetProperty("grads"));
        for (int i = 0; i < parameters.Length; i++)
            for (int k = 0; k < grads[i].Length; k++)
            {
                double got = double.CreateTruncating(parameters[i].Gradient.Data[k]);
                Math.Abs(got - grads[i][k]).Should().BeLessThanOrEqualTo(tolerance * Math.Max(Math.Abs(grads[i][k]), grads[i].Max(Math.Abs)),
                    $"{name} ({dtype}) gradient {i} element {k}: got {got:R}, torch {grads[i][k]:R}");
            }
    }

    private static double[][] Doubles2(JsonElement e) =>
        e.EnumerateArray().Select(row => row.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
}
