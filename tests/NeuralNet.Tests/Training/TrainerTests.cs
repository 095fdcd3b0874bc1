using NeuralNet.Losses;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

public class TrainerTests
{
    private sealed class SyncProgress(Action<TrainingProgress> action) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => action(value);
    }

    private sealed class WeightRecorder : TrainingCallback<float>
    {
        public List<float[][]> AfterEpoch { get; } = [];
        public List<float[][]> AfterIteration { get; } = [];
        public bool PerIteration { get; init; }

        public override void OnIterationEnd(Trainer<float> trainer, in IterationRecord record)
        {
            if (PerIteration) AfterIteration.Add(Snapshot(trainer.Model));
        }

        public override void OnEpochEnd(Trainer<float> trainer, in EpochRecord record) => AfterEpoch.Add(Snapshot(trainer.Model));
    }

    internal static float[][] Snapshot(Module<float> model) => model.Parameters.Select(p => (float[])p.Value.Data.Clone()).ToArray();

    internal static void ShouldBeBitIdentical(float[][] a, float[][] b)
    {
        a.Length.Should().Be(b.Length);
        for (int i = 0; i < a.Length; i++)
            a[i].Select(BitConverter.SingleToInt32Bits).Should().Equal(b[i].Select(BitConverter.SingleToInt32Bits), $"parameter {i} must be bit-identical");
    }

    private static Trainer<float> MakeTrainer(ulong seed, int[] hidden, double lr = 0.1, Func<Optimizer, LearningRateSchedule>? schedule = null,
        OutputActivation output = OutputActivation.Logits, HiddenActivation act = HiddenActivation.ReLU, double momentum = 0)
    {
        var random = new RandomGenerator(seed);
        var model = MlpBuilder.Build<float>(784, hidden, 10, act, output, null, random);
        var sgd = new Sgd<float>(model, lr, momentum);
        schedule?.Invoke(sgd);
        return new Trainer<float>(model, MlpBuilder.LossFor<float>(output), sgd, random);
    }

    [Fact]
    public void SameSeed_GivesBitIdenticalWeights_AtOneAndTwoThreads()
    {
        var (x, y) = MnistTestData.TrainSubset(3000);
        int saved = NeuralNetSettings.MaxDegreeOfParallelism;
        float[][] one, two, otherSeed;
        try
        {
            NeuralNetSettings.MaxDegreeOfParallelism = 1;
            var t1 = MakeTrainer(7, [32, 16], momentum: 0.9);
            t1.Fit(x, y, new TrainerOptions { Epochs = 2, BatchSize = 50 });
            one = Snapshot(t1.Model);
            NeuralNetSettings.MaxDegreeOfParallelism = 2;
            var t2 = MakeTrainer(7, [32, 16], momentum: 0.9);
            t2.Fit(x, y, new TrainerOptions { Epochs = 2, BatchSize = 50 });
            two = Snapshot(t2.Model);
            var t3 = MakeTrainer(8, [32, 16], momentum: 0.9);
            t3.Fit(x, y, new TrainerOptions { Epochs = 2, BatchSize = 50 });
            otherSeed = Snapshot(t3.Model);
        }
        finally
        {
            NeuralNetSettings.MaxDegreeOfParallelism = saved;
        }
        ShouldBeBitIdentical(one, two);
        otherSeed[0].Should().NotEqual(one[0], "a different seed must give different weights");
    }

    [Fact]
    public void FitTwiceForOneEpoch_EqualsFitOnceForTwoEpochs()
    {
        var (x, y) = MnistTestData.TrainSubset(1000);
        var a = MakeTrainer(3, [16]);
        a.Fit(x, y, new TrainerOptions { Epochs = 2, BatchSize = 25 });
        var b = MakeTrainer(3, [16]);
        b.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 25 });
        b.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 25 });
        ShouldBeBitIdentical(Snapshot(a.Model), Snapshot(b.Model));
        b.Epoch.Should().Be(2);
        b.Iteration.Should().Be(80);
        b.History.Epochs.Select(e => e.Epoch).Should().Equal(1, 2);
        b.History.Iterations.Should().HaveCount(80);
    }

    [Fact]
    public void History_RecordsEpochsIterationsValidationAndStepDecayRates()
    {
        var (x, y) = MnistTestData.TrainSubset(1200);
        var t = MakeTrainer(1, [16], lr: 0.2, schedule: o => new StepDecaySchedule(o, 0.5));
        var h = t.Fit(x, y, new TrainerOptions { Epochs = 3, BatchSize = 100, ValidationSplit = 0.25 });
        h.Epochs.Should().HaveCount(3);
        h.Epochs.Select(e => e.LearningRate).Should().Equal(0.2, 0.1, 0.05);
        h.Epochs.Should().OnlyContain(e => e.Iterations == 9); // 900 training examples / 100
        h.Iterations.Should().HaveCount(27);
        h.Epochs.Should().OnlyContain(e => e.ValidationLoss > 0 && e.ValidationAccuracy > 0.3 && e.TrainingLoss > 0);
        h.Epochs[2].ValidationLoss.Should().BeLessThan(h.Epochs[0].ValidationLoss);
        h.Epochs[2].Elapsed.Should().BeGreaterThan(h.Epochs[0].Elapsed);
        h.Iterations[0].LearningRate.Should().Be(0.2);
        h.Iterations[26].LearningRate.Should().Be(0.05);
        h.EpochsToCsv().Split('\n')[0].Should().StartWith("epoch,iterations,training_loss");
    }

    [Fact]
    public void ValidationEveryIterations_RecordsValidationOnThoseIterationsOnly()
    {
        var (x, y) = MnistTestData.TrainSubset(600);
        var (vx, vy) = MnistTestData.TrainSubset(200, skip: 600);
        var t = MakeTrainer(1, [16]);
        var h = t.Fit(x, y, new TrainerOptions { Epochs = 2, BatchSize = 50, ValidationEveryIterations = 4 }, vx, vy);
        h.Iterations.Should().HaveCount(24);
        for (int i = 0; i < 24; i++)
            double.IsNaN(h.Iterations[i].ValidationLoss).Should().Be((i + 1) % 4 != 0, $"iteration {i + 1}");
        // the 12th iteration ends epoch 1: its validation figures equal the epoch's
        h.Iterations[11].ValidationLoss.Should().Be(h.Epochs[0].ValidationLoss);
        h.Iterations[11].ValidationAccuracy.Should().Be(h.Epochs[0].ValidationAccuracy);
    }

    [Fact]
    public void Evaluate_DoesNotDependOnTheBatchSize()
    {
        var (x, y) = MnistTestData.TrainSubset(500);
        var t = MakeTrainer(1, [16]);
        t.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 25 });
        var a = t.Evaluate(x, y, batchSize: 7);
        var b = t.Evaluate(x, y, batchSize: 500);
        a.Accuracy.Should().Be(b.Accuracy);
        a.Loss.Should().BeApproximately(b.Loss, 1e-5 * b.Loss, "only the float summation order within a batch differs");
        a.ConfusionMatrix.Counts.Should().BeEquivalentTo(b.ConfusionMatrix.Counts);
        a.ConfusionMatrix.Total.Should().Be(500);
        a.Accuracy.Should().Be(a.ConfusionMatrix.Accuracy);
        a.Accuracy.Should().BeGreaterThan(0.6);
    }

    [Fact]
    public void SampleFraction_TrainsOnFreshRandomSampleEachEpoch()
    {
        var (x, y) = MnistTestData.TrainSubset(1000);
        var t = MakeTrainer(1, [16], lr: 0.5, schedule: null, output: OutputActivation.Sigmoid, act: HiddenActivation.Tanh);
        var h = t.Fit(x, y, new TrainerOptions { Epochs = 4, BatchSize = 700, SampleFraction = 0.7 });
        h.Epochs.Should().OnlyContain(e => e.Iterations == 1);
        h.Iterations.Should().HaveCount(4);
        // the four 70% samples differ: their losses are not all equal even though the weights change by small steps
        h.Epochs[3].TrainingLoss.Should().BeLessThan(h.Epochs[0].TrainingLoss);
    }

    [Fact]
    public void BoldDriverPerIterationWithUndo_RestoresTheWeightsOfTheReferenceLoss()
    {
        var (x, y) = MnistTestData.TrainSubset(500);
        var t = MakeTrainer(5, [16], lr: 3.0, schedule: o => new BoldDriverSchedule(o, undoOnIncrease: true) { Interval = ScheduleInterval.Iteration },
            output: OutputActivation.Sigmoid, act: HiddenActivation.Tanh);
        var schedule = (BoldDriverSchedule)t.Schedule!;
        var recorder = new WeightRecorder { PerIteration = true };
        t.Callbacks.Add(recorder);
        var before = Snapshot(t.Model);
        var h = t.Fit(x, y, new TrainerOptions { Epochs = 30, BatchSize = 500 });
        var it = h.Iterations;
        it.Should().Contain(r => r.Undone, "a rate of 3 must overshoot at least once");
        int checkedUndos = 0;
        for (int k = 1; k < it.Count; k++)
        {
            if (!it[k].Undone || it[k - 1].Undone) continue;
            // iteration k rejected the step taken at k-1: the weights go back to those before iteration k-1
            var expected = k >= 2 ? recorder.AfterIteration[k - 2] : before;
            ShouldBeBitIdentical(recorder.AfterIteration[k], expected);
            it[k].LearningRate.Should().Be(it[k - 1].LearningRate * 0.5);
            checkedUndos++;
        }
        checkedUndos.Should().BeGreaterThan(0);
        schedule.RiseCount.Should().Be(it.Count(r => r.Undone));
    }

    [Fact]
    public void BoldDriverPerEpoch_FollowsTheMonitoredLoss()
    {
        var (x, y) = MnistTestData.TrainSubset(600);
        var t = MakeTrainer(2, [16], schedule: o => new BoldDriverSchedule(o));
        var schedule = t.Schedule!;
        var h = t.Fit(x, y, new TrainerOptions { Epochs = 4, BatchSize = 60, ScheduleMonitor = TrainingMetric.TrainingLoss });
        double lr = 0.1;
        for (int e = 0; e < 4; e++)
        {
            h.Epochs[e].LearningRate.Should().Be(lr);
            if (e > 0) lr *= h.Epochs[e].TrainingLoss < h.Epochs[e - 1].TrainingLoss ? 1.05 : 0.5;
        }
        t.Optimizer.LearningRate.Should().Be(lr);
        schedule.LearningRate.Should().Be(lr);
    }

    [Fact]
    public void EarlyStopping_StopsAndRestoresTheBestWeights()
    {
        var (x, y) = MnistTestData.TrainSubset(1000);
        // Validation labels shifted by one: the better the model learns the real labels, the worse the validation loss.
        var (vx, vy) = MnistTestData.TrainSubset(300, skip: 1000);
        vy = vy.Select(l => (l + 1) % 10).ToArray();
        var t = MakeTrainer(4, [32], lr: 0.1);
        var recorder = new WeightRecorder();
        var early = new EarlyStopping<float>(TrainingMetric.ValidationLoss, patience: 2);
        t.Callbacks.Add(recorder);
        t.Callbacks.Add(early);
        var h = t.Fit(x, y, new TrainerOptions { Epochs = 10, BatchSize = 20 }, vx, vy);
        h.Epochs.Should().HaveCount(3);
        early.BestEpoch.Should().Be(1);
        early.StoppedEpoch.Should().Be(3);
        h.Epochs[2].ValidationLoss.Should().BeGreaterThan(h.Epochs[0].ValidationLoss);
        ShouldBeBitIdentical(Snapshot(t.Model), recorder.AfterEpoch[0]);
        Snapshot(t.Model)[0].Should().NotEqual(recorder.AfterEpoch[2][0]);
    }

    [Fact]
    public void NaNWeightInALayer_ThrowsNamingEpochIterationAndLayer()
    {
        var (x, y) = MnistTestData.TrainSubset(200);
        var t = MakeTrainer(1, [16]);
        var seq = (Sequential<float>)t.Model;
        ((Dense<float>)seq.Layers[2]).Weight.Value.Data[5] = float.NaN;
        var act = () => t.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 50 });
        var ex = act.Should().Throw<TrainingDivergedException>().Which;
        ex.Epoch.Should().Be(1);
        ex.Iteration.Should().Be(1);
        ex.LayerIndex.Should().Be(2);
        ex.Message.Should().Contain("epoch 1").And.Contain("iteration 1").And.Contain("layer 2 (Dense(16 -> 10))").And.Contain("'weight'");
    }

    [Fact]
    public void ExplodingLearningRate_ThrowsDivergedNamingTheFirstNonFiniteLayer()
    {
        var (x, y) = MnistTestData.TrainSubset(400);
        var t = MakeTrainer(1, [16], lr: 1e35);
        var act = () => t.Fit(x, y, new TrainerOptions { Epochs = 3, BatchSize = 20 });
        var ex = act.Should().Throw<TrainingDivergedException>().Which;
        ex.Iteration.Should().BeGreaterThan(1);
        ex.LayerIndex.Should().BeGreaterThanOrEqualTo(0);
        ex.Message.Should().Contain($"layer {ex.LayerIndex} (").And.Contain($"iteration {ex.Iteration}").And.Contain("not finite");
    }

    [Fact]
    public void BadInputs_ThrowArgumentExceptionsNamingTheProblem()
    {
        var (x, y) = MnistTestData.TrainSubset(100);
        var t = MakeTrainer(1, [8]);
        var o = new TrainerOptions { BatchSize = 10 };
        var badLabels = (int[])y.Clone();
        badLabels[7] = 10;
        FluentActions.Invoking(() => t.Fit(x, badLabels, o)).Should().Throw<ArgumentException>().WithMessage("*label 10 at index 7*[0, 10)*");
        FluentActions.Invoking(() => t.Fit(x, y[..99], o)).Should().Throw<ArgumentException>().WithMessage("*100 examples but there are 99 labels*");
        var nanX = x.Clone();
        nanX.Data[3 * 784 + 5] = float.NaN;
        FluentActions.Invoking(() => t.Fit(nanX, y, o)).Should().Throw<ArgumentException>().WithMessage("*example 3 (element 5)*NaN*");
        FluentActions.Invoking(() => t.Fit(new NdArray<float>(100, 783), y, o)).Should().Throw<ArgumentException>().WithMessage("*(100, 783)*do not fit*");
        FluentActions.Invoking(() => t.Fit(x, y, new TrainerOptions { BatchSize = 0 })).Should().Throw<ArgumentException>().WithMessage("*BatchSize*0*");
        FluentActions.Invoking(() => t.Fit(x, y, new TrainerOptions { SampleFraction = 1.5 })).Should().Throw<ArgumentException>().WithMessage("*SampleFraction*1.5*");
        t.Epoch.Should().Be(0);
    }

    [Fact]
    public void Cancellation_ThrowsAndKeepsTheCompletedEpochs()
    {
        var (x, y) = MnistTestData.TrainSubset(500);
        var t = MakeTrainer(1, [8]);
        using var cts = new CancellationTokenSource();
        var reports = new List<TrainingProgress>();
        var progress = new SyncProgress(p => { reports.Add(p); if (p.EpochCompleted && p.Epoch == 2) cts.Cancel(); });
        var act = () => t.Fit(x, y, new TrainerOptions { Epochs = 5, BatchSize = 50, ProgressEveryIterations = 5 }, progress: progress, cancellationToken: cts.Token);
        act.Should().Throw<OperationCanceledException>();
        t.Epoch.Should().Be(2);
        t.History.Epochs.Should().HaveCount(2);
        reports.Count(r => r.EpochCompleted).Should().Be(2);
        reports.Count(r => !r.EpochCompleted).Should().Be(4); // every 5 of 10 iterations, two epochs
        reports[^1].TotalEpochs.Should().Be(5);
    }

    [Fact]
    public void GradientClipping_RunsBetweenBackwardAndTheStep()
    {
        var (x, y) = MnistTestData.TrainSubset(64);
        var options = new TrainerOptions { Epochs = 1, BatchSize = 64, Shuffle = false };
        var clipped = MakeTrainer(3, [16], lr: 0.5);
        clipped.Fit(x, y, options with { ClipGradientNorm = 1e-3 });
        double norm = clipped.LastGradientNorm;
        norm.Should().BeGreaterThan(1e-3, "the first batch's gradient is larger than the clip");

        // By hand: the same first step with the gradient scaled by the clip factor.
        var manual = MakeTrainer(3, [16], lr: 0.5);
        var output = manual.Model.Forward(x, training: true);
        manual.Loss.Forward(output, y);
        manual.Optimizer.ZeroGrad();
        manual.Model.Backward(manual.Loss.Backward());
        GradientClipping.ClipByNorm(manual.Optimizer.Parameters, 1e-3).Should().Be(norm);
        GradientClipping.TotalNorm(manual.Optimizer.Parameters).Should().BeApproximately(1e-3, 1e-8);
        manual.Optimizer.Step();
        ShouldBeBitIdentical(Snapshot(clipped.Model), Snapshot(manual.Model));

        FluentActions.Invoking(() => clipped.Fit(x, y, options with { ClipGradientNorm = 0 })).Should().Throw<ArgumentException>().WithMessage("*ClipGradientNorm*");
        FluentActions.Invoking(() => clipped.Fit(x, y, options with { ClipGradientValue = double.NaN })).Should().Throw<ArgumentException>().WithMessage("*ClipGradientValue*");
    }

    [Fact]
    public void TrainingStep_AllocatesNothingAfterWarmUp()
    {
        var (x, y) = MnistTestData.TrainSubset(640);
        var t = MakeTrainer(1, [32], momentum: 0.9, schedule: o => new StepDecaySchedule(o, 0.9) { Interval = ScheduleInterval.Iteration });
        var meter = new AllocationMeter();
        t.Callbacks.Add(meter);
        t.Fit(x, y, new TrainerOptions { Epochs = 3, BatchSize = 32 });
        // 20 steps per epoch; look at consecutive steps inside epochs 2 and 3 (the epoch end appends to the history)
        meter.Deltas.Should().HaveCount(57);
        meter.Deltas.Where(d => d.Epoch >= 2).Should().HaveCount(38).And.OnlyContain(d => d.Bytes == 0, "a training step must not allocate after warm-up");
    }

    private sealed class AllocationMeter : TrainingCallback<float>
    {
        private long _last;
        private int _lastEpoch;
        public List<(int Epoch, long Bytes)> Deltas { get; } = new(100);

        public override void OnIterationEnd(Trainer<float> trainer, in IterationRecord record)
        {
            long now = GC.GetAllocatedBytesForCurrentThread();
            if (_lastEpoch == record.Epoch) Deltas.Add((record.Epoch, now - _last));
            _lastEpoch = record.Epoch;
            _last = GC.GetAllocatedBytesForCurrentThread();
        }
    }
}
