using System.Diagnostics;
using System.Text.Json;
using MnistSample;
using MnistSample.Cli;
using NeuralNet.Data;
using NeuralNet.Models;

namespace NeuralNet.Samples.Tests;

/// <summary>Short end-to-end runs of the sample on the bundled MNIST: each preset on a few hundred images for one epoch.</summary>
public class SmokeTests
{
    internal static (int Code, string Out, string Err, MnistRun? Run) RunSample(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        MnistRun? run = null;
        int code = CommandLine.Run(args, s => (run = new MnistRun(s, output, error)).Execute(), output, error);
        return (code, output.ToString(), error.ToString(), run);
    }

    [Theory]
    [InlineData("spark-mlp")]
    [InlineData("mlp")]
    [InlineData("lenet")]
    [InlineData("small-cnn")]
    [InlineData("deep-mlp")]
    [InlineData("modern-cnn")]
    public void EveryPresetRunsOneShortEpoch(string preset)
    {
        using var dir = new TempDir();
        var watch = Stopwatch.StartNew();
        // small-cnn trains per example (batch 1): fewer images keep it as short as the others.
        string subset = preset == "small-cnn" ? "200" : "400";
        var (code, stdout, stderr, run) = RunSample([.. SmallMnist.CsvArgs, "--preset", preset, "--subset", subset, "--validation", "50", "--epochs", "1", "-o", dir.Path, "--seed", "3"]);
        code.Should().Be(0, "stderr: {0}", stderr);
        stdout.Should().MatchRegex(@"Test accuracy: \d+\.\d\d%");
        stdout.Should().Contain("epoch 1/1");
        run!.Summary!.Epochs.Should().HaveCount(1);
        run.Summary.TestCount.Should().Be(int.Parse(subset));
        foreach (var f in new[] { "history.csv", "history.json", "iterations.csv", "metrics.json", "predictions.csv", "report.html" })
            File.Exists(Path.Combine(dir.Path, f)).Should().BeTrue($"{f} is written");
        watch.Elapsed.Should().BeLessThan(TimeSpan.FromSeconds(60), "a smoke run is short (target < 10 s on an idle machine)");
    }

    [Fact]
    public void ModernCnn_TargetAccuracy_StopsAtTheFirstEpochThatReachesIt_AndTheModelReloads()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr, run) = RunSample([.. SmallMnist.CsvArgs, "--preset", "modern-cnn", "--subset", "300", "--epochs", "3",
            "--batch-size", "50", "--target-accuracy", "10", "-o", dir.Path, "--no-report", "--plain"]);
        code.Should().Be(0, stderr);
        stdout.Should().MatchRegex(@"Epoch 1: test accuracy \d+\.\d\d% after \d+\.\d s of training; target 10% reached, stopping");
        run!.Summary!.Epochs.Should().HaveCount(1, "a 10% target is reached after the first epoch");
        // The saved model carries the batch normalizations' running statistics: it reloads and classifies like the run.
        var model = NeuralNet.Serialization.ModelSerializer.Load(Path.Combine(dir.Path, "model.safetensors"));
        model.Layers.OfType<NeuralNet.Modules.BatchNorm<float>>().Should().HaveCount(4)
            .And.OnlyContain(b => b.NumBatchesTracked.Data[0] == 6, "6 batches of 50 trained");
    }

    [Fact]
    public void MlpLearnsOnTwoThousandImages()
    {
        using var dir = new TempDir();
        var (code, _, stderr, run) = RunSample([.. SmallMnist.CsvArgs, "--validation", "200", "--epochs", "6", "--batch-size", "60", "-o", dir.Path, "--no-report"]);
        code.Should().Be(0, stderr);
        run!.Summary!.TestAccuracy.Should().BeGreaterThan(0.80, "784-64-10 reaches well over 80% on 1,800 images in 6 epochs of 30 full batches");
        run.Summary.Epochs[^1].Record.TrainingLoss.Should().BeLessThan(run.Summary.Epochs[0].Record.TrainingLoss);
    }

    [Fact]
    public void JsonPrintsOneParsableSummaryLine()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr, _) = RunSample("--json", "--subset", "300", "--validation", "30", "--epochs", "2", "-o", dir.Path, "--no-report");
        code.Should().Be(0, stderr);
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        lines.Should().ContainSingle("--json prints only the summary line");
        using var doc = JsonDocument.Parse(lines[0]);
        var root = doc.RootElement;
        root.GetProperty("preset").GetString().Should().Be("mlp");
        root.GetProperty("epochs").GetInt32().Should().Be(2);
        root.GetProperty("secondsPerEpoch").GetDouble().Should().BePositive();
        root.GetProperty("samplesPerSecond").GetDouble().Should().BePositive();
        root.GetProperty("testAccuracy").GetDouble().Should().BeInRange(0.1, 1.0);
        root.GetProperty("finalLoss").GetDouble().Should().BePositive();
    }

    [Fact]
    public void PlainOutputPrintsTheModelSummary()
    {
        using var dir = new TempDir();
        var (code, stdout, stderr, _) = RunSample("--subset", "300", "--validation", "30", "--epochs", "1", "-o", dir.Path, "--no-report");
        code.Should().Be(0, stderr);
        stdout.Should().Contain("Dense(784 -> 64)").And.Contain("Total params: 50,890").And.Contain("Trainable params: 50,890");
        stdout.IndexOf("Total params", StringComparison.Ordinal).Should().BeLessThan(stdout.IndexOf("epoch 1/1", StringComparison.Ordinal),
            "the summary is printed before training starts");
    }

    [Fact]
    public void SameSeedGivesTheSameRun()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        var first = RunSample([.. SmallMnist.CsvArgs, "--subset", "300", "--validation", "30", "--epochs", "2", "-o", a.Path, "--no-report", "--seed", "11"]).Run!.Summary!;
        var second = RunSample([.. SmallMnist.CsvArgs, "--subset", "300", "--validation", "30", "--epochs", "2", "-o", b.Path, "--no-report", "--seed", "11", "--threads", "1"]).Run!.Summary!;
        second.Epochs.Select(e => e.Record.TrainingLoss).Should().Equal(first.Epochs.Select(e => e.Record.TrainingLoss), "same seed, same losses at any thread count");
        second.Predictions.Select(p => p.Probability).Should().Equal(first.Predictions.Select(p => p.Probability));
    }

    [Fact]
    public void ReportOfARealRunHasTheChartsAndTiles()
    {
        using var dir = new TempDir();
        RunSample("--subset", "300", "--validation", "30", "--epochs", "2", "-o", dir.Path).Code.Should().Be(0);
        var html = File.ReadAllText(Path.Combine(dir.Path, "report.html"));
        foreach (var id in new[] { "chart-loss", "chart-accuracy", "chart-learning-rate", "confusion-matrix", "per-class", "weights", "misclassified" })
            html.Should().Contain($"id=\"{id}\"");
        html.Should().Contain("64 hidden units as 28×28 images");
        File.ReadAllLines(Path.Combine(dir.Path, "history.csv")).Should().HaveCount(3, "a header and one row per epoch");
        File.ReadAllLines(Path.Combine(dir.Path, "predictions.csv"))[0].Should().Be("index,prediction,probability,label");
    }

    [Fact]
    public void SparkTextFilesAndCsvAreAccepted()
    {
        using var dir = new TempDir();
        var train = CsvDataset.Read(SmallMnist.TrainCsv).Take(300);
        var test = CsvDataset.Read(SmallMnist.TestCsv).Take(100);
        string P(string f) => Path.Combine(dir.Path, f);
        TextPairDataset.Write(P("train.txt"), P("train-labels.txt"), train);
        TextPairDataset.Write(P("test.txt"), P("test-labels.txt"), test);
        CsvDataset.Write(P("train.csv"), train);
        CsvDataset.Write(P("test.csv"), test);

        var spark = RunSample("--preset", "spark-mlp", "--epochs", "2", "--no-report", P("train.txt"), P("train-labels.txt"), P("test.txt"), P("test-labels.txt"), P("spark-out"));
        spark.Code.Should().Be(0, spark.Err);
        spark.Run!.Summary!.TestCount.Should().Be(100);
        File.Exists(P("spark-out/metrics.json")).Should().BeTrue("OUTPUT_DIR is the fifth positional argument");

        var csv = RunSample("--csv", P("train.csv"), P("test.csv"), "--validation", "0", "--epochs", "1", "-o", P("csv-out"), "--no-report");
        csv.Code.Should().Be(0, csv.Err);
        csv.Run!.Summary!.TrainCount.Should().Be(300);
    }

    [Fact]
    public void MissingOrBrokenDataGivesOneErrorLineAndExitCode1()
    {
        using var dir = new TempDir();
        var missing = RunSample("--data-dir", Path.Combine(dir.Path, "nowhere"), "-o", dir.Path);
        missing.Code.Should().Be(1);
        missing.Err.Trim().Split('\n').Should().ContainSingle().Which.Should().StartWith("mnist: error: ");

        File.WriteAllText(Path.Combine(dir.Path, "bad.csv"), "7,1,2,3\n");
        var bad = RunSample("--csv", Path.Combine(dir.Path, "bad.csv"), Path.Combine(dir.Path, "bad.csv"), "-o", dir.Path);
        bad.Code.Should().Be(1);
        bad.Err.Should().Contain("bad.csv");
    }

    [Fact]
    public void ResumeContinuesAnInterruptedRunBitIdentically()
    {
        using var dir = new TempDir();
        string P(string f) => Path.Combine(dir.Path, f);
        string[] common = [.. SmallMnist.CsvArgs, "--subset", "600", "--validation", "60", "--no-report", "--seed", "5"];
        RunSample([.. common, "--epochs", "2", "-o", P("first")]).Code.Should().Be(0);
        var resumed = RunSample([.. common, "--epochs", "3", "-o", P("resumed"), "--resume", P("first/checkpoint.safetensors")]);
        resumed.Code.Should().Be(0, resumed.Err);
        resumed.Out.Should().Contain("Resumed from").And.Contain("after epoch 2 of 3");
        var straight = RunSample([.. common, "--epochs", "3", "-o", P("straight")]).Run!.Summary!;

        var r = resumed.Run!.Summary!;
        r.Epochs.Should().HaveCount(3, "the report keeps the epochs before the interruption");
        r.Epochs.Select(e => e.Record.TrainingLoss).Should().Equal(straight.Epochs.Select(e => e.Record.TrainingLoss));
        r.TestAccuracy.Should().Be(straight.TestAccuracy);
        r.Predictions.Select(p => p.Probability).Should().Equal(straight.Predictions.Select(p => p.Probability));
    }

    [Fact]
    public void ResumingFromAnotherNetworksCheckpointFailsCleanly()
    {
        using var dir = new TempDir();
        RunSample([.. SmallMnist.CsvArgs, "--subset", "300", "--epochs", "1", "--no-report", "-o", dir.Path]).Code.Should().Be(0);
        var wrong = RunSample([.. SmallMnist.CsvArgs, "--preset", "deep-mlp", "--subset", "300", "--epochs", "2", "--no-report", "-o", Path.Combine(dir.Path, "b"),
            "--resume", Path.Combine(dir.Path, "checkpoint.safetensors")]);
        wrong.Code.Should().Be(1);
        wrong.Err.Trim().Split('\n').Should().ContainSingle().Which.Should().StartWith("mnist: error: ");
    }

    [Fact]
    public void SavedModelReloadsAndPredictsTheSame()
    {
        using var dir = new TempDir();
        var run = RunSample([.. SmallMnist.CsvArgs, "--subset", "300", "--validation", "30", "--epochs", "1", "--no-report", "-o", dir.Path]).Run!.Summary!;
        var model = NeuralNet.Serialization.ModelSerializer.Load(Path.Combine(dir.Path, "model.safetensors"));
        var predictor = new NeuralNet.Evaluation.Predictor<float>(model, NeuralNet.Models.OutputActivation.Logits);
        var test = CsvDataset.Read(SmallMnist.TestCsv).Take(300);
        var predictions = predictor.Predict(test.Features);
        predictions.Select(p => p.Class).Should().Equal(run.Predictions.Select(p => p.Predicted));
        predictions.Select(p => p.Probability).Should().Equal(run.Predictions.Select(p => p.Probability));
    }
}
