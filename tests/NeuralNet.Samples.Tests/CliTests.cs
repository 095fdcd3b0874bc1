using MnistSample;
using MnistSample.Cli;
using NeuralNet.Models;

namespace NeuralNet.Samples.Tests;

public class CliTests
{
    private static (int Code, string Out, string Err, RunSettings? Settings) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        RunSettings? captured = null;
        int code = CommandLine.Run(args, s => { captured = s; return 0; }, output, error);
        return (code, output.ToString(), error.ToString(), captured);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--epochs", "0")]
    [InlineData("--epochs", "ten")]
    [InlineData("--learning-rate", "-0.1")]
    [InlineData("--learning-rate", "NaN")]
    [InlineData("--hidden", "400,x,25")]
    [InlineData("--hidden", "0")]
    [InlineData("--preset", "resnet")]
    [InlineData("--activation", "gelu")]
    [InlineData("--schedule", "cyclic")]
    [InlineData("--warmup", "0")]
    [InlineData("--warmup", "1")]
    [InlineData("--warmup", "NaN")]
    [InlineData("--momentum", "1")]
    [InlineData("--sample-fraction", "0")]
    [InlineData("--threads", "-2")]
    [InlineData("train.txt", "labels.txt", "test.txt")]
    [InlineData("a", "b", "c", "d", "out", "--csv", "x.csv", "y.csv")]
    public void BadCommandLineGivesOneErrorLineAndExitCode2(params string[] args)
    {
        var (code, stdout, stderr, settings) = Run(args);
        code.Should().Be(CommandLine.UsageError);
        settings.Should().BeNull("the run must not start");
        stdout.Should().BeEmpty();
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().ContainSingle("a bad option gives exactly one error line, got: {0}", stderr);
        lines[0].Should().StartWith("mnist: error: ").And.NotContain(" at MnistSample").And.NotContain("Exception");
    }

    [Fact]
    public void UnknownOptionIsNamedInTheError()
    {
        Run("--bogus").Err.Should().Contain("--bogus");
        Run("--epochs", "0").Err.Should().Contain("--epochs").And.Contain("positive");
    }

    [Fact]
    public void HelpDocumentsEveryOptionAndPreset()
    {
        var (code, stdout, _, settings) = Run("--help");
        code.Should().Be(0);
        settings.Should().BeNull();
        foreach (var option in new[]
                 {
                     "--preset", "--epochs", "--batch-size", "--learning-rate", "--schedule", "--warmup", "--decay", "--step-size", "--bold-increase",
                     "--bold-decrease", "--momentum", "--weight-decay", "--hidden", "--activation", "--sample-fraction", "--seed", "--threads", "--subset",
                     "--validation", "--data-dir", "--csv", "--output", "--resume", "--json", "--distributed", "--plain", "--no-report",
                     "TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS OUTPUT_DIR",
                 })
            stdout.Should().Contain(option);
        foreach (var preset in Preset.Names) stdout.Should().Contain(preset);
    }

    [Fact]
    public void NoArgumentsRunTheDefaultPresetOnBundledIdx()
    {
        var (code, _, _, s) = Run();
        code.Should().Be(0);
        s!.Preset.Name.Should().Be("mlp");
        s.Effective.Should().Be(Preset.Get("mlp"));
        s.Source.Should().Be(DataSource.Idx);
        s.OutputDirectory.Should().Be(Path.Combine("out", "mlp"));
        s.Seed.Should().Be(42UL);
    }

    [Fact]
    public void OptionsOverrideThePreset()
    {
        var s = Run("--preset", "deep-mlp", "--hidden", "900,784", "--activation", "sigmoid", "--epochs", "3", "--batch-size", "64",
            "--lr", "0.3", "--schedule", "step", "--decay", "0.5", "--step-size", "2", "--momentum", "0.9", "--seed", "7", "--threads", "1",
            "--subset", "1000", "--validation", "100", "-o", "o", "--json").Settings!;
        var e = s.Effective;
        e.Hidden.Should().Equal(900, 784);
        e.Activation.Should().Be("sigmoid");
        (e.Epochs, e.BatchSize, e.LearningRate).Should().Be((3, 64, 0.3));
        (e.Schedule, e.Decay, e.StepSize, e.Momentum).Should().Be((ScheduleKind.Step, 0.5, 2, 0.9));
        (e.TrainSubset, e.TestSubset, e.Validation).Should().Be((1000, 1000, 100));
        (s.Seed, s.Threads, s.OutputDirectory, s.Json).Should().Be((7UL, 1, "o", true));
        s.Preset.Should().Be(Preset.Get("deep-mlp"), "the unmodified preset is kept for the report");
    }

    [Theory]
    [InlineData("onecycle", ScheduleKind.OneCycle)]
    [InlineData("cosine", ScheduleKind.Cosine)]
    [InlineData("bold-driver", ScheduleKind.BoldDriver)]
    [InlineData("constant", ScheduleKind.Constant)]
    public void ScheduleOptionSelectsTheSchedule(string name, ScheduleKind kind)
    {
        var e = Run("--preset", "lenet", "--schedule", name).Settings!.Effective;
        e.Schedule.Should().Be(kind);
        e.WarmupFraction.Should().Be(0.25, "the one-cycle warm-up defaults to a quarter of the run");
        Run("--preset", "lenet", "--schedule", name, "--warmup", "0.4").Settings!.Effective.WarmupFraction.Should().Be(0.4);
    }

    [Fact]
    public void WarmupOutOfRangeIsNamed()
    {
        Run("--warmup", "1.5").Err.Should().Contain("--warmup must be in (0, 1), got 1.5");
    }

    [Fact]
    public void SparkPositionalArgumentsSelectTheTextFormat()
    {
        var s = Run("--preset", "spark-mlp", "tr.txt", "trl.txt", "te.txt", "tel.txt", "outdir").Settings!;
        s.Source.Should().Be(DataSource.SparkText);
        s.SparkFiles.Should().Equal("tr.txt", "trl.txt", "te.txt", "tel.txt");
        s.OutputDirectory.Should().Be("outdir");
    }

    [Fact]
    public void CsvOptionTakesTrainAndTestFiles()
    {
        var s = Run("--csv", "train.csv", "test.csv").Settings!;
        s.Source.Should().Be(DataSource.Csv);
        s.CsvFiles.Should().Equal("train.csv", "test.csv");
    }

    [Fact]
    public void PresetsCarryTheReferenceSettings()
    {
        var spark = Preset.Get("spark-mlp");
        (spark.Hidden.Single(), spark.Activation, spark.OutputActivation, spark.Loss).Should().Be((64, "tanh", "sigmoid", LossKind.Mse));
        (spark.SampleFraction, spark.Schedule, spark.LearningRate, spark.BoldIncrease, spark.BoldDecrease).Should().Be((0.7, ScheduleKind.BoldDriver, 0.1, 1.05, 0.5));

        var mlp = Preset.Get("mlp");
        (mlp.Hidden.Single(), mlp.Activation, mlp.InitStd, mlp.BatchSize, mlp.Schedule, mlp.Decay, mlp.Validation).Should().Be((64, "sigmoid", 0.1, 256, ScheduleKind.Step, 0.97, 5000));

        var lenet = Preset.Get("lenet");
        (lenet.Architecture, lenet.Activation).Should().Be((Architecture.LeNet, "relu"));

        var cnn = Preset.Get("small-cnn");
        (cnn.Architecture, cnn.BatchSize, cnn.LearningRate, cnn.Hidden.Single()).Should().Be((Architecture.SmallCnn, 1, 0.01, 20));

        var deep = Preset.Get("deep-mlp");
        deep.Hidden.Should().Equal(400, 100, 25);
        (deep.Activation, deep.InitStd, deep.Loss, deep.CrossEntropyEpsilon, deep.BatchSize).Should().Be(("relu", 0.01, LossKind.CrossEntropy, 1e-5, 30));
    }
}
