using System.Numerics;
using System.Text.RegularExpressions;
using NeuralNet.Modules;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Tests.TestSupport;
using NeuralNet.Training;

namespace NeuralNet.Tests.Optimization;

// --- docs/training.md: custom optimizer ---
/// <summary>Adagrad (no decay): s = s + g², w = w − η·g / (√s + ε).</summary>
public sealed class Adagrad<T> : Optimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly NdArray<T>[] _sum;

    public Adagrad(IReadOnlyList<Parameter<T>> parameters, double learningRate = 1e-2, double epsilon = 1e-10)
        : base(parameters, learningRate, weightDecay: 0)
    {
        Epsilon = epsilon;
        _sum = AddState("sum");                   // one zero tensor per parameter, saved and restored with the state
    }

    public double Epsilon { get; }

    public override string Kind => "Adagrad";

    // Elementwise over [start, start + length): Step may run slices of one parameter on several threads at once.
    protected override void Update(int index, ParameterGroup<T> group, int start, int length)
    {
        Span<T> w = Parameters[index].Value.AsSpan().Slice(start, length);
        ReadOnlySpan<T> g = Parameters[index].Gradient.AsSpan().Slice(start, length);
        Span<T> s = _sum[index].AsSpan().Slice(start, length);
        T negLr = T.CreateTruncating(-group.LearningRate), eps = T.CreateTruncating(Epsilon);
        for (int i = 0; i < w.Length; i++)        // scalar for brevity; the built-in optimizers use TensorPrimitives
        {
            s[i] += g[i] * g[i];
            w[i] += negLr * g[i] / (T.Sqrt(s[i]) + eps);
        }
    }

    // Settings a checkpoint must match; mutable numbers go in WriteStateScalars/ReadStateScalars.
    protected override void WriteHyperParameters(IDictionary<string, double> into) => into["eps"] = Epsilon;
}
// --- end ---

[Collection(NeuralNet.Tests.Kernels.KernelThreadSettingCollection.Name)]
public class OptimizerTests
{
    private static Parameter<T>[] RandomParameters<T>(int seed, params int[] lengths) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var random = new RandomGenerator((ulong)seed);
        return lengths.Select((n, i) =>
        {
            var p = new Parameter<T>("p" + i, new NdArray<T>(n));
            for (int k = 0; k < n; k++) p.Value.Data[k] = T.CreateTruncating(random.NextDouble() * 2 - 1);
            return p;
        }).ToArray();
    }

    private static void RandomGradients<T>(Parameter<T>[] parameters, RandomGenerator random) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var p in parameters)
            for (int k = 0; k < p.Value.Length; k++) p.Gradient.Data[k] = T.CreateTruncating(random.NextDouble() * 2 - 1);
    }

    public static TheoryData<string> Kinds() => ["sgd-nesterov", "sgd-dampening", "sgd-decay", "adam-amsgrad", "adamw", "rmsprop-centered", "rmsprop", "adagrad"];

    internal static Optimizer<T> Make<T>(string kind, Parameter<T>[] parameters) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var groups = new[] { new ParameterGroup<T>(parameters.Where((_, i) => i % 2 == 0), weightDecay: 0.01), new ParameterGroup<T>(parameters.Where((_, i) => i % 2 == 1), 0.02) };
        return kind switch
        {
            "sgd-nesterov" => new Sgd<T>(groups, 0.05, momentum: 0.9, nesterov: true),
            "sgd-dampening" => new Sgd<T>(groups, 0.05, momentum: 0.8, dampening: 0.25),
            "sgd-decay" => new Sgd<T>(groups, 0.05),
            "adam-amsgrad" => new Adam<T>(groups, 0.01, amsGrad: true),
            "adamw" => new AdamW<T>(groups, 0.01),
            "rmsprop-centered" => new RmsProp<T>(groups, 0.01, momentum: 0.5, centered: true),
            "rmsprop" => new RmsProp<T>(groups, 0.01),
            "adagrad" => new Adagrad<T>(parameters, 0.05),
            _ => throw new ArgumentException(kind),
        };
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void Step_IsBitIdenticalAtOneTwoAndThreeThreads(string kind)
    {
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            float[][]? reference = null;
            foreach (int threads in new[] { 1, 2, 3 })
            {
                NeuralNetSettings.MaxDegreeOfParallelism = threads;
                // 100 003 elements: split in up to 3 parts, the last one ending mid-block and mid-chunk; 77: one scalar-tail part.
                var parameters = RandomParameters<float>(5, 100_003, 77, 70_000);
                var optimizer = Make(kind, parameters);
                var random = new RandomGenerator(11);
                for (int step = 0; step < 4; step++)
                {
                    RandomGradients(parameters, random);
                    optimizer.Step();
                }
                var values = parameters.Select(p => (float[])p.Value.Data.Clone()).ToArray();
                values.SelectMany(v => v).Should().OnlyContain(v => float.IsFinite(v));
                if (reference is null) reference = values;
                else
                    for (int i = 0; i < values.Length; i++)
                        values[i].Select(BitConverter.SingleToInt32Bits).Should().Equal(reference[i].Select(BitConverter.SingleToInt32Bits),
                            $"{kind}: parameter {i} at {threads} threads must be bit-identical to 1 thread");
            }
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void StateRoundTrip_ResumesBitIdentically(string kind)
    {
        var a = RandomParameters<double>(3, 40, 7);
        var b = RandomParameters<double>(3, 40, 7);
        var optA = Make(kind, a);
        var optB = Make(kind, b);
        var random = new RandomGenerator(8);
        for (int step = 0; step < 3; step++)
        {
            RandomGradients(a, random);
            optA.Step();
        }
        // b gets a's weights and optimizer state; then both take the same further steps.
        for (int i = 0; i < a.Length; i++) b[i].Value.CopyFrom(a[i].Value);
        optB.SetState(optA.GetState());
        optB.StepCount.Should().Be(3);
        for (int step = 0; step < 3; step++)
        {
            RandomGradients(a, random);
            for (int i = 0; i < a.Length; i++) b[i].Gradient.CopyFrom(a[i].Gradient);
            optA.Step();
            optB.Step();
        }
        for (int i = 0; i < a.Length; i++) b[i].Value.Data.Should().Equal(a[i].Value.Data, $"{kind} parameter {i}");
    }

    [Fact]
    public void SetState_OfAnotherKindOrSetting_ThrowsAndChangesNothing()
    {
        var p = RandomParameters<double>(1, 4);
        var adam = new Adam<double>(p, 0.01);
        var before = adam.GetState();
        FluentActions.Invoking(() => adam.SetState(new AdamW<double>(RandomParameters<double>(1, 4)).GetState()))
            .Should().Throw<ArgumentException>().WithMessage("*Adam.SetState*AdamW*");
        FluentActions.Invoking(() => adam.SetState(new Adam<double>(RandomParameters<double>(1, 4), beta2: 0.99).GetState()))
            .Should().Throw<ArgumentException>().WithMessage("*beta2 0.99*this optimizer 0.999*");
        FluentActions.Invoking(() => adam.SetState(new Adam<double>(RandomParameters<double>(1, 5)).GetState()))
            .Should().Throw<ArgumentException>().WithMessage("*exp_avg*shape (5)*needs (4)*");
        adam.GetState().Scalars.Should().Equal(before.Scalars);
    }

    [Fact]
    public void ParameterGroups_HaveTheirOwnRateAndDecay()
    {
        var model = new Sequential<double>([3], new Dense<double>(3, 2, random: new RandomGenerator(1)));
        var groups = ParameterGroups.SplitWeightDecay(model, 0.1);
        groups.Select(g => g.Parameters.Single().Name).Should().Equal("weight", "bias");
        var sgd = new Sgd<double>(groups, learningRate: 0.5);
        sgd.ParameterGroups.Select(g => g.WeightDecay).Should().Equal(0.1, 0.0);
        sgd.ParameterGroups.Select(g => g.LearningRate).Should().Equal(0.5, 0.5);
        var weight = model.Parameters[0];
        var bias = model.Parameters[1];
        double w0 = weight.Value.Data[0], b0 = bias.Value.Data[0];
        sgd.ZeroGrad();
        sgd.Step(); // zero gradients: only the decay moves the weights, and only the weight decays
        weight.Value.Data[0].Should().Be(w0 + (0.1 * w0 + 0) * -0.5);
        bias.Value.Data[0].Should().Be(b0);
        FluentActions.Invoking(() => new Sgd<double>(groups, 0.1)).Should().Throw<ArgumentException>().WithMessage("*already belongs*");
        FluentActions.Invoking(() => new Sgd<double>([new ParameterGroup<double>([weight]), new ParameterGroup<double>([weight])], 0.1))
            .Should().Throw<ArgumentException>().WithMessage("*appears twice*group 1*");
    }

    [Fact]
    public void BadSettings_ThrowNamingThemAndLeaveTheGroupsFree()
    {
        var groups = new[] { new ParameterGroup<double>(RandomParameters<double>(1, 3)) };
        FluentActions.Invoking(() => new Adam<double>(groups, beta1: 1.5)).Should().Throw<ArgumentException>().WithMessage("Adam: beta1*1.5*");
        FluentActions.Invoking(() => new AdamW<double>(groups, epsilon: 0)).Should().Throw<ArgumentException>().WithMessage("AdamW: epsilon*");
        FluentActions.Invoking(() => new RmsProp<double>(groups, alpha: 1)).Should().Throw<ArgumentException>().WithMessage("RmsProp: alpha*");
        FluentActions.Invoking(() => new Sgd<double>(groups, 0.1, nesterov: true)).Should().Throw<ArgumentException>().WithMessage("Sgd: Nesterov*");
        FluentActions.Invoking(() => new Sgd<double>(groups, 0.1, dampening: 2)).Should().Throw<ArgumentException>().WithMessage("Sgd: dampening*");
        new Sgd<double>(groups, 0.1).ParameterGroups.Should().Equal(groups);
        FluentActions.Invoking(() => new ParameterGroup<double>([], learningRate: -1)).Should().Throw<ArgumentException>().WithMessage("*learning rate*-1*");
    }

    [Fact]
    public void AttachedSchedule_OwnsTheRate()
    {
        var sgd = new Sgd<double>(RandomParameters<double>(1, 3), 0.2);
        sgd.LearningRate = 0.4; // no schedule yet: the rate is the user's
        sgd.Groups[0].InitialLearningRate.Should().Be(0.2);
        var schedule = new ExponentialSchedule(sgd, 0.5);
        sgd.Schedule.Should().BeSameAs(schedule);
        sgd.LearningRate.Should().Be(0.2, "the schedule writes its step-0 rate from the group's initial rate");
        FluentActions.Invoking(() => sgd.LearningRate = 0.3).Should().Throw<InvalidOperationException>().WithMessage("*Exponential schedule*");
        FluentActions.Invoking(() => sgd.Groups[0].LearningRate = 0.3).Should().Throw<InvalidOperationException>();
        FluentActions.Invoking(() => new StepDecaySchedule(sgd, 0.5)).Should().Throw<ArgumentException>().WithMessage("*already has a Exponential schedule*");
        schedule.Step();
        sgd.LearningRate.Should().Be(0.1);
        FluentActions.Invoking(() => new LinearWarmupSchedule(schedule, 2)).Should().Throw<ArgumentException>().WithMessage("*already stepped 1 times*");

        var other = new Sgd<double>(RandomParameters<double>(1, 3), 0.2);
        var cosine = new CosineAnnealingSchedule(other, 10);
        var warm = new LinearWarmupSchedule(cosine, warmupSteps: 2, startFactor: 0.5);
        other.Schedule.Should().BeSameAs(warm);
        other.LearningRate.Should().Be(0.1);
        FluentActions.Invoking(() => new LinearWarmupSchedule(cosine, 2)).Should().Throw<ArgumentException>().WithMessage("*not the one its optimizer uses*");
    }

    [Fact]
    public void WarmupBeforeBoldDriver_HandsTheLossOverAfterTheWarmup()
    {
        var sgd = new Sgd<double>(RandomParameters<double>(1, 3), 0.2);
        var warm = new LinearWarmupSchedule(new BoldDriverSchedule(sgd, undoOnIncrease: true), warmupSteps: 2, startFactor: 0.5);
        warm.RequiresLoss.Should().BeTrue();
        warm.MayRequestUndo.Should().BeTrue();
        sgd.LearningRate.Should().Be(0.1);
        warm.Step(1.0).Should().Be(ScheduleDecision.None);
        sgd.LearningRate.Should().Be(0.2 * 0.75);
        warm.Step(1.0).Should().Be(ScheduleDecision.None);
        sgd.LearningRate.Should().Be(0.2);
        warm.Step(0.9).Should().Be(ScheduleDecision.None);      // Bold Driver's first loss: its reference
        warm.Step(1.2).Should().Be(ScheduleDecision.WorsenedUndo);
        sgd.LearningRate.Should().Be(0.1);
        var state = warm.GetState();
        state["after.reference_loss"].Should().Be(0.9);
        warm.Kind.Should().Be("LinearWarmup(BoldDriver)");
    }

    [Fact]
    public void CustomOptimizer_FollowsItsFormulaAndRoundTripsItsState()
    {
        var model = new Sequential<double>([2], new Dense<double>(2, 1, random: new RandomGenerator(4)));
        var adagrad = new Adagrad<double>(model.Parameters, learningRate: 0.5);
        var w = model.Parameters[0];
        double w0 = w.Value.Data[0];
        w.Gradient.Data[0] = 0.3;
        adagrad.Step();
        w.Value.Data[0].Should().Be(w0 - 0.5 * 0.3 / (Math.Sqrt(0.09) + 1e-10));
        var state = adagrad.GetState();
        state.Kind.Should().Be("Adagrad");
        state.Tensors["sum"][0].Data[0].Should().Be(0.09);
        state.Scalars["eps"].Should().Be(1e-10);
    }

    [Fact]
    public void CustomOptimizerSample_IsTheCodeInDocs()
    {
        string docs = File.ReadAllText(Path.Combine(RepoPaths.Root, "docs", "training.md"));
        var block = Regex.Match(docs, @"<!-- custom optimizer -->\s+```csharp\n(?<code>.*?)```", RegexOptions.Singleline);
        block.Success.Should().BeTrue("docs/training.md has the custom optimizer block");
        string source = File.ReadAllText(Path.Combine(RepoPaths.Root, "tests", "NeuralNet.Tests", "Optimization", "OptimizerTests.cs"));
        int start = source.IndexOf("// --- docs/training.md: custom optimizer ---", StringComparison.Ordinal);
        int end = source.IndexOf("// --- end ---", start, StringComparison.Ordinal);
        Normalize(source[start..end].Split('\n').Skip(1)).Should().Equal(Normalize(block.Groups["code"].Value.Split('\n')));
    }

    private static IEnumerable<string> Normalize(IEnumerable<string> lines) => lines.Select(l => l.Trim()).Where(l => l.Length > 0);
}
