using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using MnistSample.Report;

namespace MnistSample.Output;

/// <summary>
/// Writes a run's files: history.csv and history.json (per epoch and per iteration), iterations.csv, metrics.json,
/// predictions.csv and report.html. The model file (model.safetensors) and the checkpoint (checkpoint.safetensors) are
/// written by the run itself through the library. Every file is written atomically (<see cref="WriteText"/>).
/// </summary>
public static class OutputWriter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>JSON options shared by every file and the --json line: camelCase, non-finite numbers as strings.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>File names inside the output directory.</summary>
    public static class Files
    {
        /// <summary>Per-epoch history as CSV.</summary>
        public const string HistoryCsv = "history.csv";

        /// <summary>Per-update history as CSV.</summary>
        public const string IterationsCsv = "iterations.csv";

        /// <summary>Per-epoch and per-update history as JSON.</summary>
        public const string HistoryJson = "history.json";

        /// <summary>Test metrics as JSON.</summary>
        public const string MetricsJson = "metrics.json";

        /// <summary>A sample of test predictions.</summary>
        public const string PredictionsCsv = "predictions.csv";

        /// <summary>The HTML report.</summary>
        public const string Report = "report.html";

        /// <summary>The trained model.</summary>
        public const string Model = "model.safetensors";

        /// <summary>The checkpoint written after every epoch.</summary>
        public const string Checkpoint = "checkpoint.safetensors";
    }

    /// <summary>Writes every file of <paramref name="s"/> into <paramref name="directory"/> (created when missing).</summary>
    /// <param name="directory">The output directory.</param>
    /// <param name="s">The run.</param>
    /// <param name="report">Also write report.html.</param>
    public static void WriteAll(string directory, RunSummary s, bool report = true)
    {
        Directory.CreateDirectory(directory);
        WriteHistoryCsv(Path.Combine(directory, Files.HistoryCsv), s.Epochs);
        WriteIterationsCsv(Path.Combine(directory, Files.IterationsCsv), s.Iterations);
        WriteJson(Path.Combine(directory, Files.HistoryJson), new { epochs = s.Epochs.Select(EpochJson), iterations = s.Iterations.Select(IterationJson) });
        WriteJson(Path.Combine(directory, Files.MetricsJson), Metrics(s));
        WritePredictionsCsv(Path.Combine(directory, Files.PredictionsCsv), s.Predictions);
        if (report) HtmlReport.Write(Path.Combine(directory, Files.Report), s);
    }

    // history.json keeps the sample's field names (loss, accuracy, …), not the library records' (trainingLoss, …), and
    // leaves out the validation figures of a run without validation.
    private static object EpochJson(TimedEpoch e) => new
    {
        epoch = e.Record.Epoch,
        loss = e.Record.TrainingLoss,
        accuracy = e.Record.TrainingAccuracy,
        validationLoss = e.ValidationLoss,
        validationAccuracy = e.ValidationAccuracy,
        learningRate = e.Record.LearningRate,
        seconds = e.Seconds,
        samplesPerSecond = e.SamplesPerSecond,
    };

    private static object IterationJson(NeuralNet.Training.IterationRecord i) => new
    {
        epoch = i.Epoch,
        iteration = i.Iteration,
        loss = i.TrainingLoss,
        accuracy = i.TrainingAccuracy,
        learningRate = i.LearningRate,
    };

    /// <summary>The metrics.json document.</summary>
    public static object Metrics(RunSummary s) => new
    {
        preset = s.Preset,
        testAccuracy = s.TestAccuracy,
        testLoss = s.TestLoss,
        testCount = s.TestCount,
        trainCount = s.TrainCount,
        validationCount = s.ValidationCount,
        epochs = s.Epochs.Count,
        trainingSeconds = s.TrainingSeconds,
        secondsPerEpoch = s.SecondsPerEpoch,
        samplesPerSecond = s.SamplesPerSecond,
        finalLoss = s.FinalLoss,
        macroF1 = s.Confusion.MacroF1,
        classes = s.Classes,
        confusion = Enumerable.Range(0, s.Confusion.Classes).Select(r => Enumerable.Range(0, s.Confusion.Classes).Select(c => s.Confusion[r, c])),
        settings = s.Settings.ToDictionary(kv => kv.Key, kv => kv.Value),
        architecture = s.Architecture,
        commandLine = s.CommandLine,
    };

    /// <summary>The one-line --json summary: preset, epochs, seconds per epoch, samples/s, test accuracy, final loss.</summary>
    public static string SummaryLine(RunSummary s) => JsonSerializer.Serialize(new
    {
        preset = s.Preset,
        epochs = s.Epochs.Count,
        secondsPerEpoch = Math.Round(s.SecondsPerEpoch, 4),
        samplesPerSecond = Math.Round(s.SamplesPerSecond, 1),
        testAccuracy = Math.Round(s.TestAccuracy, 6),
        finalLoss = s.FinalLoss,
        testLoss = s.TestLoss,
        trainingSeconds = Math.Round(s.TrainingSeconds, 3),
    }, JsonOptions);

    /// <summary>Writes history.csv: epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,samples_per_second.</summary>
    public static void WriteHistoryCsv(string path, IReadOnlyList<TimedEpoch> epochs)
    {
        var sb = new StringBuilder("epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,seconds,samples_per_second\n");
        foreach (var e in epochs)
            sb.Append(Inv, $"{e.Record.Epoch},{R(e.Record.TrainingLoss)},{R(e.Record.TrainingAccuracy)},{R(e.ValidationLoss)},{R(e.ValidationAccuracy)},{R(e.Record.LearningRate)},{R(e.Seconds)},{R(e.SamplesPerSecond)}\n");
        WriteText(path, sb.ToString());
    }

    /// <summary>Writes iterations.csv: epoch,iteration,loss,accuracy,learning_rate.</summary>
    public static void WriteIterationsCsv(string path, IReadOnlyList<NeuralNet.Training.IterationRecord> iterations)
    {
        var sb = new StringBuilder("epoch,iteration,loss,accuracy,learning_rate\n");
        foreach (var i in iterations) sb.Append(Inv, $"{i.Epoch},{i.Iteration},{R(i.TrainingLoss)},{R(i.TrainingAccuracy)},{R(i.LearningRate)}\n");
        WriteText(path, sb.ToString());
    }

    /// <summary>Writes predictions.csv: index,prediction,probability,label.</summary>
    public static void WritePredictionsCsv(string path, IReadOnlyList<TestPrediction> predictions)
    {
        var sb = new StringBuilder("index,prediction,probability,label\n");
        foreach (var p in predictions) sb.Append(Inv, $"{p.Index},{p.Predicted},{R(p.Probability)},{p.Label}\n");
        WriteText(path, sb.ToString());
    }

    private static void WriteJson(string path, object value) => WriteText(path, JsonSerializer.Serialize(value, value.GetType(), JsonOptions));

    /// <summary>
    /// Writes UTF-8 text (no byte-order mark) atomically: a kill or a full disk mid-write leaves the previous file,
    /// never a truncated one.
    /// </summary>
    public static void WriteText(string path, string text)
    {
        // Write beside the target, then rename over it: a rename within a directory replaces the file in one step.
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        try
        {
            File.WriteAllBytes(temporary, new UTF8Encoding(false).GetBytes(text));
            File.Move(temporary, path, overwrite: true);
        }
        catch
        {
            File.Delete(temporary);
            throw;
        }
    }

    private static string R(double? v) => v is { } d ? d.ToString("R", Inv) : "";
}
