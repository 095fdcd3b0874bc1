using NeuralNet.Optimization;

namespace NeuralNet.Tests.Optimization;

[Collection(NeuralNet.Tests.Kernels.KernelThreadSettingCollection.Name)]
public class SgdTests
{
    private static Parameter<double> Param(double[] w, double[] g)
    {
        var p = new Parameter<double>("weight", new NdArray<double>((double[])w.Clone(), w.Length));
        g.CopyTo(p.Gradient.Data, 0);
        return p;
    }

    [Fact]
    public void PlainStep_SubtractsLearningRateTimesGradient()
    {
        var p = Param([1.0, -2.0, 0.5], [0.5, 1.0, -4.0]);
        var sgd = new Sgd<double>([p], learningRate: 0.1);
        sgd.Step();
        p.Value.Data.Should().Equal(1.0 - 0.1 * 0.5, -2.0 - 0.1 * 1.0, 0.5 + 0.1 * 4.0);
        sgd.StepCount.Should().Be(1);
    }

    [Fact]
    public void Momentum_FollowsVelocityFormulaOverThreeSteps()
    {
        double[] grads = [0.3, -0.2, 0.7];
        var p = Param([1.0], [0.0]);
        var sgd = new Sgd<double>([p], learningRate: 0.5, momentum: 0.9);
        double w = 1.0, v = 0.0;
        foreach (double g in grads)
        {
            p.Gradient.Data[0] = g;
            sgd.Step();
            v = 0.9 * v + g;
            w = w + v * -0.5;
            p.Value.Data[0].Should().Be(w);
        }
        // closed form check of the third velocity: g3 + 0.9 g2 + 0.81 g1
        v.Should().BeApproximately(0.7 + 0.9 * -0.2 + 0.81 * 0.3, 1e-15);
        sgd.GetState().Tensors["momentum_buffer"][0].Data[0].Should().Be(v);
    }

    [Fact]
    public void WeightDecayWithoutMomentum_AddsLambdaTimesWeightToGradient()
    {
        var p = Param([2.0, -1.0], [0.1, 0.1]);
        var sgd = new Sgd<double>([p], learningRate: 0.1, weightDecay: 0.01);
        sgd.Step();
        p.Value.Data[0].Should().Be(2.0 + (0.01 * 2.0 + 0.1) * -0.1); // 1.988
        p.Value.Data[1].Should().Be(-1.0 + (0.01 * -1.0 + 0.1) * -0.1); // -1.009
        p.Value.Data[0].Should().BeApproximately(1.988, 1e-15);
    }

    [Fact]
    public void WeightDecayWithMomentum_MatchesFormula()
    {
        var p = Param([2.0], [0.1]);
        var sgd = new Sgd<double>([p], learningRate: 0.1, momentum: 0.5, weightDecay: 0.01);
        double w = 2.0, v = 0;
        for (int i = 0; i < 2; i++)
        {
            sgd.Step();
            v = (0.5 * v + 0.1) + 0.01 * w;
            w = w + v * -0.1;
            p.Value.Data[0].Should().Be(w);
        }
        w.Should().BeApproximately(2.0 - 0.1 * 0.12 - 0.1 * (0.06 + 0.1 + 0.01 * (2.0 - 0.012)), 1e-14);
    }

    [Theory]
    [InlineData(0.0, 0.0)]
    [InlineData(0.9, 0.0)]
    [InlineData(0.0, 1e-3)]
    [InlineData(0.9, 5e-4)]
    public void LargeParameters_StepInParallel_WithTheBitsOfOneThread(double momentum, double weightDecay)
    {
        // 313,600 and 40,001 elements are above the parallel threshold (32k), 7 below: all three paths, odd lengths.
        int[] lengths = [313_600, 40_001, 7];
        float[] Run(int threads)
        {
            NeuralNetSettings.MaxDegreeOfParallelism = threads;
            var rng = new RandomGenerator(8);
            var parameters = lengths.Select((n, i) => new Parameter<float>($"p{i}",
                new NdArray<float>(Enumerable.Range(0, n).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray(), n))).ToArray();
            var sgd = new Sgd<float>(parameters, learningRate: 0.05, momentum, weightDecay);
            for (int step = 0; step < 3; step++)
            {
                sgd.ZeroGrad();
                foreach (var p in parameters)
                {
                    p.Gradient.Data.Should().OnlyContain(x => x == 0f, "ZeroGrad clears every element");
                    for (int j = 0; j < p.Gradient.Data.Length; j++) p.Gradient.Data[j] = (float)rng.NextDouble() - 0.5f;
                }
                sgd.Step();
            }
            return parameters.SelectMany(p => p.Value.Data).ToArray();
        }
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        try
        {
            float[] one = Run(1);
            Run(2).Should().Equal(one);
            Run(3).Should().Equal(one);
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
    }

    [Fact]
    public void Step_DoesNotAllocate()
    {
        var p = new Parameter<float>("weight", new NdArray<float>(64, 784));
        var b = new Parameter<float>("bias", new NdArray<float>(64));
        var sgd = new Sgd<float>([p, b], 0.1, momentum: 0.9, weightDecay: 1e-4);
        // Warm up for a quarter of a second: the tiered JIT's promotion of the shared Optimizer<T>.Step (called by many
        // tests) allocates on the calling thread once; the step itself never does.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 250) sgd.Step();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) sgd.Step();
        (GC.GetAllocatedBytesForCurrentThread() - before).Should().Be(0);
    }

    [Fact]
    public void State_RoundTripsAndContinuesIdentically()
    {
        var a = Param([1.0, 2.0], [0.3, -0.4]);
        var sgdA = new Sgd<double>([a], 0.2, momentum: 0.8);
        sgdA.Step();
        var state = sgdA.GetState();
        var b = Param(a.Value.Data, [0.3, -0.4]);
        var sgdB = new Sgd<double>([b], 0.7, momentum: 0.8);
        sgdB.SetState(state);
        sgdB.LearningRate.Should().Be(0.2);
        sgdA.Step();
        sgdB.Step();
        b.Value.Data.Should().Equal(a.Value.Data);
        sgdB.StepCount.Should().Be(2);
    }

    [Fact]
    public void BadHyperParametersAndStates_Throw()
    {
        var p = Param([1.0], [0.0]);
        FluentActions.Invoking(() => new Sgd<double>([p], 0)).Should().Throw<ArgumentException>().WithMessage("*learning rate*0*");
        FluentActions.Invoking(() => new Sgd<double>([p], double.NaN)).Should().Throw<ArgumentException>().WithMessage("*NaN*");
        FluentActions.Invoking(() => new Sgd<double>([p], 0.1, momentum: 1.0)).Should().Throw<ArgumentException>().WithMessage("*momentum*");
        FluentActions.Invoking(() => new Sgd<double>([p], 0.1, weightDecay: -1)).Should().Throw<ArgumentException>().WithMessage("*weight decay*");
        FluentActions.Invoking(() => new Sgd<double>([p, p], 0.1)).Should().Throw<ArgumentException>().WithMessage("*twice*");
        var sgd = new Sgd<double>([p], 0.1, momentum: 0.9);
        var good = sgd.GetState();
        var wrongShape = good with { Tensors = new Dictionary<string, IReadOnlyList<NdArray<double>>> { ["momentum_buffer"] = [new NdArray<double>(2)] } };
        FluentActions.Invoking(() => sgd.SetState(wrongShape)).Should().Throw<ArgumentException>().WithMessage("*momentum_buffer' tensor 0 has shape (2)*needs (1)*");
        var wrongMomentum = good with { Scalars = new Dictionary<string, double>(good.Scalars) { ["momentum"] = 0.5 } };
        FluentActions.Invoking(() => sgd.SetState(wrongMomentum)).Should().Throw<ArgumentException>().WithMessage("*momentum 0.5*");
        var noRate = good with { Scalars = good.Scalars.Where(kv => kv.Key != "group.0.learning_rate").ToDictionary() };
        FluentActions.Invoking(() => sgd.SetState(noRate)).Should().Throw<ArgumentException>().WithMessage("*group.0.learning_rate*");
        FluentActions.Invoking(() => sgd.SetState(good with { Kind = "Adam" })).Should().Throw<ArgumentException>().WithMessage("*Sgd*Adam*");
    }
}
