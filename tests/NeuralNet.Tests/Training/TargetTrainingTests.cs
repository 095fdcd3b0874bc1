using NeuralNet.Data;
using NeuralNet.Evaluation;
using NeuralNet.Losses;
using NeuralNet.Models;
using NeuralNet.Modules;
using NeuralNet.Modules.Activations;
using NeuralNet.Optimization;
using NeuralNet.Training;

namespace NeuralNet.Tests.Training;

/// <summary>Training on float targets: regression, several outputs, soft labels.</summary>
public class TargetTrainingTests
{
    /// <summary>x uniform in [−1, 1]³; y = (x₀ + 2x₁ − x₂, x₀·x₁) (two outputs, one linear and one not).</summary>
    private static (NdArray<float> X, NdArray<float> Y) Synthetic(int n, ulong seed)
    {
        var r = new RandomGenerator(seed);
        var x = new NdArray<float>(n, 3);
        var y = new NdArray<float>(n, 2);
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < 3; j++) x[i, j] = (float)(2 * r.NextDouble() - 1);
            y[i, 0] = x[i, 0] + 2 * x[i, 1] - x[i, 2];
            y[i, 1] = x[i, 0] * x[i, 1];
        }
        return (x, y);
    }

    private static Trainer<float> Regressor(ulong seed, Loss<float>? loss = null)
    {
        var r = new RandomGenerator(seed);
        var model = new Sequential<float>([3], new Dense<float>(3, 32, random: r), new Tanh<float>(), new Dense<float>(32, 2, random: r));
        return new Trainer<float>(model, loss ?? new MseLoss<float>(), new Sgd<float>(model, 0.05, 0.9), random: r);
    }

    [Fact]
    public void Regression_LearnsTwoOutputs_AndRecordsMseMaeR2()
    {
        var (x, y) = Synthetic(2000, 1);
        var (vx, vy) = Synthetic(500, 2);
        var trainer = Regressor(3);
        var history = trainer.Fit(x, y, new TrainerOptions { Epochs = 30, BatchSize = 32 }, vx, vy);

        var first = history.Epochs[0];
        var last = history.Last;
        last.TrainingRegression.Should().NotBeNull();
        last.ValidationRegression.Should().NotBeNull();
        var val = last.ValidationRegression!.Value;
        val.MeanSquaredError.Should().BeLessThan(0.01, "the network fits both outputs");
        val.RSquared.Should().BeGreaterThan(0.95);
        val.MeanSquaredError.Should().BeLessThan(first.ValidationRegression!.Value.MeanSquaredError / 5);
        last.ValidationAccuracy.Should().BeGreaterThan(0.9, "with two outputs accuracy compares the arg-max of output and target");

        // The validation figures are those of the model at the end of training, and MseLoss is half the summed squared error.
        var eval = trainer.Evaluate(vx, vy);
        var prediction = trainer.Model.Forward(vx).Clone();
        var direct = RegressionMetrics.Compute(prediction, vy);
        eval.Metrics.Should().Be(val);
        eval.Metrics.MeanSquaredError.Should().BeApproximately(direct.MeanSquaredError, 1e-12);
        eval.Loss.Should().BeApproximately(val.MeanSquaredError, 1e-6, "MseLoss = Σ(y − t)²/(2N) = K·MSE/2, which is the MSE for K = 2 outputs");
        history.EpochsToCsv().Split('\n')[0].Should().EndWith("training_mse,training_mae,training_r2,validation_mse,validation_mae,validation_r2");
    }

    [Fact]
    public void SingleOutput_HasNoAccuracy_AndLabelTrainingHasNoRegressionMetrics()
    {
        var r = new RandomGenerator(4);
        var model = new Sequential<float>([3], new Dense<float>(3, 8, random: r), new ReLU<float>(), new Dense<float>(8, 1, random: r));
        var trainer = new Trainer<float>(model, new MseLoss<float>(), new Sgd<float>(model, 0.05), random: r);
        var (x, y2) = Synthetic(200, 5);
        var y = new NdArray<float>(200, 1);
        for (int i = 0; i < 200; i++) y[i, 0] = y2[i, 0];
        var last = trainer.Fit(x, y, new TrainerOptions { Epochs = 2, ValidationSplit = 0.25 }).Last;
        double.IsNaN(last.TrainingAccuracy).Should().BeTrue("one output has no arg-max to compare");
        double.IsNaN(last.ValidationAccuracy).Should().BeTrue();
        last.ValidationRegression.Should().NotBeNull("ValidationSplit holds out the last quarter of the targets");
        trainer.History.Iterations.Should().OnlyContain(i => double.IsNaN(i.TrainingAccuracy));

        var (mx, my) = MnistTestData.TrainSubset(200);
        var cls = MlpBuilder.Build<float>(784, [8], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, new RandomGenerator(1));
        var labelled = new Trainer<float>(cls, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(cls, 0.1), random: new RandomGenerator(1));
        var record = labelled.Fit(mx, my, new TrainerOptions { ValidationSplit = 0.2 }).Last;
        record.TrainingRegression.Should().BeNull();
        record.ValidationRegression.Should().BeNull();
        labelled.History.EpochsToCsv().Split('\n')[0].Should().EndWith("learning_rate,elapsed_seconds", "label training keeps the CSV columns");
    }

    [Fact]
    public void OneHotTargets_TrainAsLabels()
    {
        // SoftmaxCrossEntropyLoss on one-hot rows is the same loss and gradient as on labels (computed as (p·Σt − t)/N rather
        // than p/N − 1/N at the label, so equal up to rounding): the two runs end within float rounding of each other.
        var (x, labels) = MnistTestData.TrainSubset(500);
        var oneHot = Dataset.OneHot<float>(labels, 10);
        (float[][] Weights, double Loss) Train(bool targets)
        {
            var r = new RandomGenerator(9);
            var model = MlpBuilder.Build<float>(784, [16], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, r);
            var t = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, 0.1, 0.5), random: r);
            var options = new TrainerOptions { Epochs = 2, BatchSize = 25 };
            if (targets) t.Fit(x, oneHot, options);
            else t.Fit(x, labels, options);
            t.History.Last.TrainingAccuracy.Should().BeGreaterThan(0.5);
            return (TrainerTests.Snapshot(model), t.History.Last.TrainingLoss);
        }
        var a = Train(targets: true);
        var b = Train(targets: false);
        a.Loss.Should().BeApproximately(b.Loss, 1e-5 * b.Loss);
        for (int p = 0; p < a.Weights.Length; p++)
            for (int i = 0; i < a.Weights[p].Length; i++)
                a.Weights[p][i].Should().BeApproximately(b.Weights[p][i], 1e-4f, $"parameter {p}[{i}]");
    }

    [Fact]
    public void SoftLabels_Train_AndAccuracyUsesTheArgMaxTarget()
    {
        // Label smoothing: 0.9 on the label, 0.1/9 elsewhere.
        var (x, labels) = MnistTestData.TrainSubset(1500);
        var soft = new NdArray<float>(labels.Length, 10);
        for (int i = 0; i < labels.Length; i++)
            for (int k = 0; k < 10; k++) soft[i, k] = k == labels[i] ? 0.9f : 0.1f / 9;
        var (tx, tl) = MnistTestData.TrainSubset(500, skip: 1500);
        var r = new RandomGenerator(2);
        var model = MlpBuilder.Build<float>(784, [32], 10, HiddenActivation.ReLU, OutputActivation.Logits, null, r);
        var trainer = new Trainer<float>(model, new SoftmaxCrossEntropyLoss<float>(), new Sgd<float>(model, 0.1, 0.9), random: r);
        trainer.Fit(x, soft, new TrainerOptions { Epochs = 3, BatchSize = 30 });
        var onTargets = trainer.Evaluate(tx, Dataset.OneHot<float>(tl, 10));
        var onLabels = trainer.Evaluate(tx, tl);
        onTargets.Accuracy.Should().Be(onLabels.Accuracy, "arg-max of a one-hot target is the label");
        onLabels.Accuracy.Should().BeGreaterThan(0.8);
    }

    [Fact]
    public void SameSeed_GivesBitIdenticalWeights_OnTargets()
    {
        var (x, y) = Synthetic(300, 6);
        var a = Regressor(8);
        var b = Regressor(8);
        var options = new TrainerOptions { Epochs = 3, BatchSize = 16 };
        a.Fit(x, y, options);
        b.Fit(x, y, options);
        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(a.Model), TrainerTests.Snapshot(b.Model));
        a.History.Last.TrainingRegression.Should().Be(b.History.Last.TrainingRegression);
    }

    [Fact]
    public void BadTargets_ThrowNamingWhatAndWhere()
    {
        var (x, y) = Synthetic(10, 7);
        var trainer = Regressor(1);
        var options = new TrainerOptions();
        FluentActions.Invoking(() => trainer.Fit(x, new NdArray<float>(10, 3), options)).Should().Throw<ArgumentException>()
            .WithMessage("Trainer: training targets (10, 3) have 3 outputs per example but the model outputs 2*");
        FluentActions.Invoking(() => trainer.Fit(x, new NdArray<float>(9, 2), options)).Should().Throw<ArgumentException>()
            .WithMessage("Trainer: training targets must be (N, outputs) with N = 10*got (9, 2)*");
        var nan = y.Clone();
        nan[4, 1] = float.NaN;
        FluentActions.Invoking(() => trainer.Fit(x, nan, options)).Should().Throw<ArgumentException>()
            .WithMessage("Trainer: training target of example 4 (output 1) is NaN, not finite*");
        FluentActions.Invoking(() => trainer.Fit(x, y, options, x, null)).Should().Throw<ArgumentException>()
            .WithMessage("*validation inputs and validation targets must be given together*");
        FluentActions.Invoking(() => trainer.Evaluate(x, new NdArray<float>(10, 1))).Should().Throw<ArgumentException>().WithMessage("Trainer: evaluation targets*");
    }

    [Fact]
    public void RegressionMetrics_KnownValues()
    {
        // Two outputs: column 0 targets 1, 2, 3 predicted 1, 2, 4 (SSE 1, SST 2, R² 0.5); column 1 targets 0, 0, 3 predicted 1, 0, 3
        // (SSE 1, SST 6, R² 5/6). MSE = 2/6, MAE = 2/6, R² = (0.5 + 5/6)/2 — as scikit-learn's r2_score(multioutput='uniform_average').
        var t = new NdArray<double>([1, 0, 2, 0, 3, 3], 3, 2);
        var p = new NdArray<double>([1, 1, 2, 0, 4, 3], 3, 2);
        var m = RegressionMetrics.Compute(p, t);
        m.MeanSquaredError.Should().BeApproximately(2.0 / 6, 1e-15);
        m.MeanAbsoluteError.Should().BeApproximately(2.0 / 6, 1e-15);
        m.RSquared.Should().BeApproximately((0.5 + 5.0 / 6) / 2, 1e-15);

        // Constant targets leave R² undefined for that output: it is skipped, or NaN when no output varies.
        var constant = RegressionMetrics.Compute(new NdArray<double>([1, 2], 2, 1), new NdArray<double>([1, 1], 2, 1));
        double.IsNaN(constant.RSquared).Should().BeTrue();
        constant.MeanSquaredError.Should().Be(0.5);
    }

    [Fact]
    public void Dataset_OfTargets_TrainsThroughTheExtension()
    {
        var (x, y) = Synthetic(400, 11);
        var data = new Dataset(x, y, "synthetic");
        var (train, validation) = (data.Take(300), data.Slice(300, 100));
        var trainer = Regressor(12);
        trainer.Fit(train, new TrainerOptions { Epochs = 5 }, validation);
        var result = trainer.EvaluateTargets(validation);
        result.Metrics.Should().Be(trainer.History.Last.ValidationRegression!.Value);
        FluentActions.Invoking(() => trainer.Evaluate(validation)).Should().Throw<InvalidOperationException>().WithMessage("*holds float targets*use Targets*");
        var (mx, my) = MnistTestData.TrainSubset(10);
        FluentActions.Invoking(() => trainer.Fit(train, new TrainerOptions(), new Dataset(mx, my))).Should().Throw<ArgumentException>()
            .WithMessage("*'synthetic' holds float targets but the validation set 'dataset' holds labels*");
    }

    [Fact]
    public void Checkpoint_KeepsTheRegressionMetrics_AndResumesBitIdentically()
    {
        var (x, y) = Synthetic(200, 13);
        var (vx, vy) = Synthetic(50, 14);
        var options = new TrainerOptions { Epochs = 2, BatchSize = 20 };
        var straight = Regressor(15);
        straight.Fit(x, y, options with { Epochs = 4 }, vx, vy);

        var first = Regressor(15);
        first.Fit(x, y, options, vx, vy);
        using var dir = new NeuralNet.Tests.Serialization.TempDirectory();
        var path = dir.File("ckpt.safetensors");
        TrainingCheckpoint.Save(first, path);
        var resumed = Regressor(99);
        TrainingCheckpoint.Restore(resumed, path);
        resumed.History.Epochs.Select(e => e.TrainingRegression).Should().Equal(first.History.Epochs.Select(e => e.TrainingRegression));
        resumed.History.Epochs.Select(e => e.ValidationRegression).Should().Equal(first.History.Epochs.Select(e => e.ValidationRegression));
        resumed.History.Epochs[1].ValidationRegression.Should().NotBeNull();
        resumed.Fit(x, y, options, vx, vy);
        TrainerTests.ShouldBeBitIdentical(TrainerTests.Snapshot(resumed.Model), TrainerTests.Snapshot(straight.Model));
        resumed.History.Last.ValidationRegression.Should().Be(straight.History.Last.ValidationRegression);
    }
}
