using NeuralNet.Models;
using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nn-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Trainer<float> Make(ulong seed, Func<Optimizer, LearningRateSchedule> schedule)
    {
        var random = new RandomGenerator(seed);
        var model = MlpBuilder.Build<float>(784, [24], 10, HiddenActivation.Sigmoid, OutputActivation.Logits, null, random);
        var sgd = new Sgd<float>(model, 0.3, momentum: 0.9);
        schedule(sgd);
        return new Trainer<float>(model, MlpBuilder.LossFor<float>(OutputActivation.Logits), sgd, random);
    }

    [Theory]
    [InlineData("step")]
    [InlineData("bold-undo")]
    public void ResumingFromACheckpoint_GivesBitIdenticalWeightsToAnUninterruptedRun(string kind)
    {
        Func<Optimizer, LearningRateSchedule> schedule = kind == "step"
            ? o => new StepDecaySchedule(o, 0.7)
            : o => new BoldDriverSchedule(o, undoOnIncrease: true);
        var (x, y) = MnistTestData.TrainSubset(800);
        var options = new TrainerOptions { Epochs = 4, BatchSize = 40, ValidationSplit = 0.25 };

        var straight = Make(9, schedule);
        straight.Fit(x, y, options);

        var first = Make(9, schedule);
        var saver = new CheckpointCallback<float>(Path.Combine(_dir, "ckpt-{epoch}.safetensors"), everyEpochs: 2);
        first.Callbacks.Add(saver);
        first.Fit(x, y, options with { Epochs = 2 });
        saver.Saved.Should().Equal(Path.Combine(_dir, "ckpt-2.safetensors"));

        var resumed = Make(12345, schedule); // different initial weights and generator: all of it must come from the file
        TrainingCheckpoint.Restore(resumed, saver.Saved[0]);
        resumed.Epoch.Should().Be(2);
        resumed.History.Epochs.Should().Equal(first.History.Epochs);
        resumed.Fit(x, y, options with { Epochs = 2 });

        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(resumed.Model), TrainerTests.Snapshot(straight.Model));
        resumed.Schedule!.LearningRate.Should().Be(straight.Schedule!.LearningRate);
        resumed.Random.GetState().Should().Equal(straight.Random.GetState());
        resumed.History.Epochs.Select(e => e.TrainingLoss).Should().Equal(straight.History.Epochs.Select(e => e.TrainingLoss));
        resumed.History.Iterations.Select(i => i.LearningRate).Should().Equal(straight.History.Iterations.Select(i => i.LearningRate));
        resumed.Iteration.Should().Be(straight.Iteration);
    }

    [Fact]
    public void ResumingAdamWWithOneCycleAndClipping_GivesBitIdenticalWeights()
    {
        var (x, y) = MnistTestData.TrainSubset(600);
        var options = new TrainerOptions { Epochs = 4, BatchSize = 50, ClipGradientNorm = 0.5 };
        Trainer<float> MakeAdamW(ulong seed)
        {
            var random = new RandomGenerator(seed);
            var model = MlpBuilder.Build<float>(784, [24], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, random);
            var adamw = new AdamW<float>(ParameterGroups.SplitWeightDecay(model, 0.05), learningRate: 0.01, amsGrad: true);
            _ = new OneCycleSchedule(adamw, totalSteps: 4 * 12, cycleMomentum: true) { Interval = ScheduleInterval.Iteration };
            return new Trainer<float>(model, MlpBuilder.LossFor<float>(OutputActivation.Logits), adamw, random);
        }

        var straight = MakeAdamW(9);
        straight.Fit(x, y, options);
        straight.LastGradientNorm.Should().BeGreaterThan(0);

        var first = MakeAdamW(9);
        first.Fit(x, y, options with { Epochs = 2 });
        string path = Path.Combine(_dir, "adamw.safetensors");
        TrainingCheckpoint.Save(first, path);
        var resumed = MakeAdamW(12345);
        TrainingCheckpoint.Restore(resumed, path);
        resumed.Optimizer.StepCount.Should().Be(24);
        resumed.Schedule!.StepCount.Should().Be(24);
        resumed.Fit(x, y, options with { Epochs = 2 });

        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(resumed.Model), TrainerTests.Snapshot(straight.Model));
        resumed.History.Iterations.Select(i => i.LearningRate).Should().Equal(straight.History.Iterations.Select(i => i.LearningRate));
        resumed.Optimizer.LearningRate.Should().Be(straight.Optimizer.LearningRate);
        resumed.Optimizer.ScheduledMomentum.Should().Be(straight.Optimizer.ScheduledMomentum);

        // The checkpoint of an AdamW trainer does not restore into an Sgd one.
        var relu = MlpBuilder.Build<float>(784, [24], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, new RandomGenerator(1));
        var sgd = new Sgd<float>(relu, 0.01);
        _ = new OneCycleSchedule(sgd, 48) { Interval = ScheduleInterval.Iteration };
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(new Trainer<float>(relu, MlpBuilder.LossFor<float>(OutputActivation.Logits), sgd), path))
            .Should().Throw<InvalidDataException>().WithMessage("*adamw.safetensors*Sgd*AdamW*");
    }

    [Fact]
    public void ACheckpointIsAlsoAModelFile()
    {
        var (x, y) = MnistTestData.TrainSubset(200);
        var t = Make(1, o => new StepDecaySchedule(o, 0.7));
        t.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 50 });
        string path = Path.Combine(_dir, "m.safetensors");
        TrainingCheckpoint.Save(t, path);
        var model = NeuralNet.Serialization.ModelSerializer.Load<float>(path);
        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(model), TrainerTests.Snapshot(t.Model));
        var file = NeuralNet.Serialization.SafeTensorsFile.Load(path);
        file.Metadata["training.epoch"].Should().Be("1");
        file.Contains("layers.0.weight").Should().BeTrue();
        file.Contains("training.optimizer.momentum_buffer.3").Should().BeTrue();
        file.Metadata["training.optimizer.kind"].Should().Be("Sgd");
        file.Metadata["training.optimizer"].Should().Contain("\"group.0.initial_learning_rate\":0.3");

        // a plain model file is not a checkpoint
        string modelOnly = Path.Combine(_dir, "plain.safetensors");
        NeuralNet.Serialization.ModelSerializer.Save((NeuralNet.Modules.Sequential<float>)t.Model, modelOnly);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(Make(1, o => new StepDecaySchedule(o, 0.7)), modelOnly))
            .Should().Throw<InvalidDataException>().WithMessage("*plain.safetensors*training.checkpoint_version*missing*");
    }

    [Fact]
    public void MismatchedOrCorruptCheckpoints_ThrowInvalidDataAndLeaveTheTrainerUntouched()
    {
        var (x, y) = MnistTestData.TrainSubset(200);
        var t = Make(1, o => new StepDecaySchedule(o, 0.7));
        t.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 50 });
        string path = Path.Combine(_dir, "a.safetensors");
        TrainingCheckpoint.Save(t, path);

        var random = new RandomGenerator(1);
        var wider = MlpBuilder.Build<float>(784, [25], 10, HiddenActivation.Sigmoid, OutputActivation.Logits, null, random);
        var widerSgd = new Sgd<float>(wider, 0.3, momentum: 0.9);
        _ = new StepDecaySchedule(widerSgd, 0.7);
        var other = new Trainer<float>(wider, MlpBuilder.LossFor<float>(OutputActivation.Logits), widerSgd);
        var before = TrainerTests.Snapshot(wider);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(other, path)).Should().Throw<InvalidDataException>()
            .WithMessage("*a.safetensors*architecture*24*differs*25*");
        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(wider), before);
        other.Epoch.Should().Be(0);

        var noMomentum = Make(1, o => new StepDecaySchedule(o, 0.7));
        var plainSgd = new Sgd<float>(noMomentum.Model, 0.3);
        _ = new StepDecaySchedule(plainSgd, 0.7);
        var plain = new Trainer<float>(noMomentum.Model, noMomentum.Loss, plainSgd);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(plain, path)).Should().Throw<InvalidDataException>().WithMessage("*momentum 0.9*");
        var bold = Make(1, o => new BoldDriverSchedule(o));
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(bold, path)).Should().Throw<InvalidDataException>().WithMessage("*schedule is 'StepDecay'*'BoldDriver'*");

        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 0x40; // flip a bit in the last tensor
        string corrupt = Path.Combine(_dir, "corrupt.safetensors");
        File.WriteAllBytes(corrupt, bytes);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(Make(1, o => new StepDecaySchedule(o, 0.7)), corrupt))
            .Should().Throw<InvalidDataException>().WithMessage("*corrupt.safetensors*");
        File.WriteAllBytes(corrupt, bytes[..100]);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(Make(1, o => new StepDecaySchedule(o, 0.7)), corrupt))
            .Should().Throw<InvalidDataException>().WithMessage("*corrupt.safetensors*");
    }
    [Fact]
    public void ResumingWithEarlyStopping_StopsAtTheSameEpochWithTheSameBestWeights()
    {
        var (x, y) = MnistTestData.TrainSubset(800);
        var options = new TrainerOptions { Epochs = 12, BatchSize = 40, ValidationSplit = 0.25 };
        EarlyStopping<float> Stopper() => new(TrainingMetric.ValidationLoss, patience: 2, minDelta: 0.01);

        var straight = Make(9, o => new StepDecaySchedule(o, 0.7));
        var straightStopper = Stopper();
        straight.Callbacks.Add(straightStopper);
        straight.Fit(x, y, options);
        // The test needs a stop after the checkpoint (epoch 3) and before the last epoch, with the best epoch earlier.
        straightStopper.StoppedEpoch.Should().BeInRange(5, 11, "the scenario must stop early, after the checkpoint");
        straightStopper.BestEpoch.Should().BeLessThan(straightStopper.StoppedEpoch);

        var first = Make(9, o => new StepDecaySchedule(o, 0.7));
        first.Callbacks.Add(Stopper());
        var saver = new CheckpointCallback<float>(Path.Combine(_dir, "es-{epoch}.safetensors"), everyEpochs: 3);
        first.Callbacks.Add(saver);
        first.Fit(x, y, options with { Epochs = 3 });

        var resumed = Make(12345, o => new StepDecaySchedule(o, 0.7));
        var resumedStopper = Stopper();
        resumed.Callbacks.Add(resumedStopper);
        TrainingCheckpoint.Restore(resumed, saver.Saved[0]);
        resumedStopper.BestEpoch.Should().BeInRange(1, 3);
        resumed.Fit(x, y, options with { Epochs = 9 });

        resumedStopper.StoppedEpoch.Should().Be(straightStopper.StoppedEpoch);
        resumedStopper.BestEpoch.Should().Be(straightStopper.BestEpoch);
        resumedStopper.BestValue.Should().Be(straightStopper.BestValue);
        resumed.Epoch.Should().Be(straight.Epoch);
        // Both ended with the best epoch's weights put back.
        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(resumed.Model), TrainerTests.Snapshot(straight.Model));
    }

    [Fact]
    public void CallbackStates_RoundTripNaN_AndMismatchesLeaveEverythingUntouched()
    {
        // Saved before any epoch: the best value is still NaN, which plain JSON cannot hold.
        var t = Make(1, o => new StepDecaySchedule(o, 0.7));
        var stopper = new EarlyStopping<float>(patience: 4);
        t.Callbacks.Add(stopper);
        string path = Path.Combine(_dir, "fresh.safetensors");
        TrainingCheckpoint.Save(t, path);
        var file = NeuralNet.Serialization.SafeTensorsFile.Load(path);
        file.Metadata["training.callbacks.0.kind"].Should().Be("early_stopping");
        file.Metadata["training.callbacks.0.state"].Should().Contain("\"NaN\"");
        var other = Make(2, o => new StepDecaySchedule(o, 0.7));
        var otherStopper = new EarlyStopping<float>(patience: 4);
        other.Callbacks.Add(otherStopper);
        TrainingCheckpoint.Restore(other, path);
        double.IsNaN(otherStopper.BestValue).Should().BeTrue();

        // After training, the state holds the best weights.
        var (x, y) = MnistTestData.TrainSubset(200);
        t.Fit(x, y, new TrainerOptions { Epochs = 2, BatchSize = 50 });
        TrainingCheckpoint.Save(t, path);
        NeuralNet.Serialization.SafeTensorsFile.Load(path).Contains("training.callbacks.0.3").Should().BeTrue("4 parameter tensors");

        // A callback of another kind at that position: refused, and nothing changes.
        var mismatched = Make(3, o => new StepDecaySchedule(o, 0.7));
        var foreign = new CountingCallback();
        mismatched.Callbacks.Add(foreign);
        var before = TrainerTests.Snapshot(mismatched.Model);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(mismatched, path)).Should().Throw<InvalidDataException>()
            .WithMessage("*callback 0 saved a 'early_stopping' state*'counting'*");
        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(mismatched.Model), before);
        foreign.Count.Should().Be(0);

        // An early stopping that does not restore best weights cannot take a state that holds them: refused, unchanged.
        var noRestore = Make(4, o => new StepDecaySchedule(o, 0.7));
        var plainStopper = new EarlyStopping<float>(restoreBestWeights: false);
        noRestore.Callbacks.Add(plainStopper);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(noRestore, path)).Should().Throw<InvalidDataException>()
            .WithMessage("*callback 0*does not restore them*");
        noRestore.Epoch.Should().Be(0);
        double.IsNaN(plainStopper.BestValue).Should().BeTrue();

        // A checkpoint without callback state (or a trainer without the callback) restores as before.
        var bare = Make(5, o => new StepDecaySchedule(o, 0.7));
        string barePath = Path.Combine(_dir, "bare.safetensors");
        TrainingCheckpoint.Save(bare, barePath);
        var withStopper = Make(6, o => new StepDecaySchedule(o, 0.7));
        withStopper.Callbacks.Add(new EarlyStopping<float>());
        TrainingCheckpoint.Restore(withStopper, barePath);
        TrainingCheckpoint.Restore(Make(7, o => new StepDecaySchedule(o, 0.7)), path);
    }

    /// <summary>A checkpointed callback of another kind, to test the kind check.</summary>
    private sealed class CountingCallback : TrainingCallback<float>, ICheckpointedCallback<float>
    {
        public int Count { get; private set; }

        public string StateKind => "counting";

        public CallbackState<float> GetState() => new(new Dictionary<string, double> { ["count"] = Count }, []);

        public void SetState(Trainer<float> trainer, CallbackState<float> state) => Count = (int)state.Values["count"];
    }
}
