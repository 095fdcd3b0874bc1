using NeuralNet.Optimization;
using NeuralNet.Optimization.Schedules;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("nn-ckpt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Trainer<float> Make(ulong seed, Func<LearningRateSchedule> schedule)
    {
        var random = new RandomGenerator(seed);
        var model = MlpBuilder.Build<float>(784, [24], 10, HiddenActivation.Sigmoid, OutputActivation.Logits, null, random);
        return new Trainer<float>(model, MlpBuilder.LossFor<float>(OutputActivation.Logits), new Sgd<float>(model, 0.3, momentum: 0.9), schedule(), random);
    }

    [Theory]
    [InlineData("step")]
    [InlineData("bold-undo")]
    public void ResumingFromACheckpoint_GivesBitIdenticalWeightsToAnUninterruptedRun(string kind)
    {
        Func<LearningRateSchedule> schedule = kind == "step"
            ? () => new StepDecaySchedule(0.3, 0.7)
            : () => new BoldDriverSchedule(0.3, undoOnIncrease: true);
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
    public void ACheckpointIsAlsoAModelFile()
    {
        var (x, y) = MnistTestData.TrainSubset(200);
        var t = Make(1, () => new StepDecaySchedule(0.3, 0.7));
        t.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 50 });
        string path = Path.Combine(_dir, "m.safetensors");
        TrainingCheckpoint.Save(t, path);
        var model = NeuralNet.Serialization.ModelSerializer.Load<float>(path);
        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(model), TrainerTests.Snapshot(t.Model));
        var file = NeuralNet.Serialization.SafeTensorsFile.Load(path);
        file.Metadata["training.epoch"].Should().Be("1");
        file.Contains("layers.0.weight").Should().BeTrue();
        file.Contains("training.momentum.3").Should().BeTrue();

        // a plain model file is not a checkpoint
        string modelOnly = Path.Combine(_dir, "plain.safetensors");
        NeuralNet.Serialization.ModelSerializer.Save((NeuralNet.Modules.Sequential<float>)t.Model, modelOnly);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(Make(1, () => new StepDecaySchedule(0.3, 0.7)), modelOnly))
            .Should().Throw<InvalidDataException>().WithMessage("*plain.safetensors*training.checkpoint_version*missing*");
    }

    [Fact]
    public void MismatchedOrCorruptCheckpoints_ThrowInvalidDataAndLeaveTheTrainerUntouched()
    {
        var (x, y) = MnistTestData.TrainSubset(200);
        var t = Make(1, () => new StepDecaySchedule(0.3, 0.7));
        t.Fit(x, y, new TrainerOptions { Epochs = 1, BatchSize = 50 });
        string path = Path.Combine(_dir, "a.safetensors");
        TrainingCheckpoint.Save(t, path);

        var random = new RandomGenerator(1);
        var wider = MlpBuilder.Build<float>(784, [25], 10, HiddenActivation.Sigmoid, OutputActivation.Logits, null, random);
        var other = new Trainer<float>(wider, MlpBuilder.LossFor<float>(OutputActivation.Logits), new Sgd<float>(wider, 0.3, momentum: 0.9), new StepDecaySchedule(0.3, 0.7));
        var before = TrainerTests.Snapshot(wider);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(other, path)).Should().Throw<InvalidDataException>()
            .WithMessage("*a.safetensors*architecture*24*differs*25*");
        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(wider), before);
        other.Epoch.Should().Be(0);

        var noMomentum = Make(1, () => new StepDecaySchedule(0.3, 0.7));
        var plain = new Trainer<float>(noMomentum.Model, noMomentum.Loss, new Sgd<float>(noMomentum.Model, 0.3), new StepDecaySchedule(0.3, 0.7));
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(plain, path)).Should().Throw<InvalidDataException>().WithMessage("*momentum 0.9*");
        var bold = Make(1, () => new BoldDriverSchedule(0.3));
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(bold, path)).Should().Throw<InvalidDataException>().WithMessage("*schedule is 'StepDecay'*'BoldDriver'*");

        var bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 0x40; // flip a bit in the last tensor
        string corrupt = Path.Combine(_dir, "corrupt.safetensors");
        File.WriteAllBytes(corrupt, bytes);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(Make(1, () => new StepDecaySchedule(0.3, 0.7)), corrupt))
            .Should().Throw<InvalidDataException>().WithMessage("*corrupt.safetensors*");
        File.WriteAllBytes(corrupt, bytes[..100]);
        FluentActions.Invoking(() => TrainingCheckpoint.Restore(Make(1, () => new StepDecaySchedule(0.3, 0.7)), corrupt))
            .Should().Throw<InvalidDataException>().WithMessage("*corrupt.safetensors*");
    }
}
