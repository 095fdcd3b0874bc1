using NeuralNet.Evaluation;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using MnistSample.Report;
using Spectre.Console;

namespace MnistSample.ConsoleUi;

/// <summary>What the training loop reports while it runs; implemented by the live, the plain and the silent views.</summary>
public abstract class TrainingView
{
    /// <summary>Invariant culture for every number printed.</summary>
    protected static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>Runs <paramref name="training"/> inside the view (the live view needs its progress context around it).</summary>
    public virtual TResult Run<TResult>(Func<TResult> training) => training();

    /// <summary>An epoch begins.</summary>
    /// <param name="epoch">1-based epoch.</param>
    /// <param name="epochs">Total epochs.</param>
    /// <param name="samples">Training samples this epoch will see.</param>
    /// <param name="learningRate">The learning rate of the epoch.</param>
    public abstract void EpochStarted(int epoch, int epochs, int samples, double learningRate);

    /// <summary>A batch finished.</summary>
    /// <param name="samplesDone">Samples of the epoch processed so far.</param>
    /// <param name="loss">Running mean loss of the epoch.</param>
    /// <param name="accuracy">Running accuracy of the epoch in [0, 1].</param>
    /// <param name="learningRate">The current learning rate.</param>
    /// <param name="samplesPerSecond">Throughput so far this epoch.</param>
    public abstract void BatchDone(int samplesDone, double loss, double accuracy, double learningRate, double samplesPerSecond);

    /// <summary>An epoch finished (validation included).</summary>
    public abstract void EpochDone(TimedEpoch record, int epochs);

    /// <summary>A status message (data loaded, resumed, model saved…).</summary>
    public abstract void Message(string text);

    /// <summary>Prints the test results: accuracy, per-class table and confusion matrix.</summary>
    public abstract void Results(RunSummary summary, string outputDirectory);

    /// <summary>The one-line text of an epoch, shared by the plain view and the live bar's description.</summary>
    public static string EpochLine(TimedEpoch r, int epochs)
    {
        var sb = new StringBuilder();
        sb.Append(Inv, $"epoch {r.Record.Epoch}/{epochs}  loss {r.Record.TrainingLoss:0.0000}  acc {r.Record.TrainingAccuracy * 100:0.00}%");
        if (r.ValidationAccuracy is { } va) sb.Append(Inv, $"  val {va * 100:0.00}%");
        sb.Append(Inv, $"  lr {r.Record.LearningRate:0.#####}  {r.SamplesPerSecond:N0} samples/s  {r.Seconds:0.0} s");
        return sb.ToString();
    }

    /// <summary>The per-class table and confusion matrix as plain text.</summary>
    public static string PlainResults(RunSummary s)
    {
        var sb = new StringBuilder();
        sb.Append(Inv, $"Test accuracy: {s.TestAccuracy * 100:0.00}% ({s.TestCount:N0} images, loss {s.TestLoss:0.0000})\n\n");
        sb.Append("digit  support  precision  recall      F1\n");
        foreach (var c in s.Classes)
            sb.Append(Inv, $"{c.Class,5}  {c.Support,7}  {c.Precision,9:0.0000}  {c.Recall,6:0.0000}  {c.F1,6:0.0000}\n");
        sb.Append("\nconfusion (rows: true, columns: predicted)\n      ");
        int k = s.Confusion.Classes;
        for (int c = 0; c < k; c++) sb.Append(Inv, $"{c,6}");
        sb.Append('\n');
        for (int r = 0; r < k; r++)
        {
            sb.Append(Inv, $"{r,6}");
            for (int c = 0; c < k; c++) sb.Append(Inv, $"{s.Confusion[r, c],6}");
            sb.Append('\n');
        }

        return sb.ToString();
    }
}

/// <summary>Plain lines, one per epoch (and a heartbeat on long epochs): for CI logs and pipes.</summary>
public sealed class PlainView(TextWriter output) : TrainingView
{
    private readonly Stopwatch _sinceLine = new();
    private int _epoch, _epochs, _samples;

    /// <inheritdoc/>
    public override void EpochStarted(int epoch, int epochs, int samples, double learningRate)
    {
        (_epoch, _epochs, _samples) = (epoch, epochs, samples);
        _sinceLine.Restart();
    }

    /// <inheritdoc/>
    public override void BatchDone(int samplesDone, double loss, double accuracy, double learningRate, double samplesPerSecond)
    {
        // Long epochs (per-example SGD) would otherwise look hung in a log.
        if (_sinceLine.Elapsed.TotalSeconds < 15) return;
        _sinceLine.Restart();
        output.WriteLine(string.Create(Inv, $"  epoch {_epoch}/{_epochs}: {samplesDone:N0}/{_samples:N0}  loss {loss:0.0000}  acc {accuracy * 100:0.00}%  {samplesPerSecond:N0} samples/s"));
        output.Flush();
    }

    /// <inheritdoc/>
    public override void EpochDone(TimedEpoch record, int epochs)
    {
        _seconds += record.Seconds;
        _timed++;
        string left = record.Record.Epoch < epochs
            ? string.Create(Inv, $"  ~{FormatDuration(_seconds / _timed * (epochs - record.Record.Epoch))} left")
            : "";
        output.WriteLine(EpochLine(record, epochs) + left);
        output.Flush();
    }

    private double _seconds;
    private int _timed;

    /// <summary>"42 s", "3:07", "1:02:03".</summary>
    public static string FormatDuration(double seconds)
    {
        var t = TimeSpan.FromSeconds(Math.Max(0, Math.Round(seconds)));
        return t.TotalSeconds < 60 ? string.Create(Inv, $"{t.TotalSeconds:0} s")
            : t.TotalHours < 1 ? t.ToString(@"m\:ss", Inv) : t.ToString(@"h\:mm\:ss", Inv);
    }

    /// <inheritdoc/>
    public override void Message(string text) => output.WriteLine(text);

    /// <inheritdoc/>
    public override void Results(RunSummary summary, string outputDirectory)
    {
        output.Write(PlainResults(summary));
        if (summary.Caveat is { } caveat) output.WriteLine($"Note: {caveat}");
        output.WriteLine($"Outputs written to {outputDirectory}");
        output.Flush();
    }
}

/// <summary>Prints nothing while training; used with --json, whose only output is the summary line.</summary>
public sealed class SilentView : TrainingView
{
    /// <inheritdoc/>
    public override void EpochStarted(int epoch, int epochs, int samples, double learningRate) { }

    /// <inheritdoc/>
    public override void BatchDone(int samplesDone, double loss, double accuracy, double learningRate, double samplesPerSecond) { }

    /// <inheritdoc/>
    public override void EpochDone(TimedEpoch record, int epochs) { }

    /// <inheritdoc/>
    public override void Message(string text) { }

    /// <inheritdoc/>
    public override void Results(RunSummary summary, string outputDirectory) { }
}

/// <summary>
/// A live Spectre.Console display: one row for the whole run (its bar and the time left until the last epoch ends) and
/// one row per epoch with loss, accuracy, validation accuracy, learning rate and samples/s.
/// </summary>
/// <remarks>Below <see cref="WideLayout"/> columns the rows shorten (no elapsed-time column, compact text, a narrower
/// bar) so that at 80 columns every row still fits on one line with its bar.</remarks>
public sealed class LiveView(IAnsiConsole console) : TrainingView
{
    /// <summary>The console width from which the full layout is used.</summary>
    public const int WideLayout = 120;

    private ProgressContext? _context;
    private ProgressTask? _task, _run;
    private readonly Stopwatch _throttle = Stopwatch.StartNew();
    private int _epoch, _epochs, _samples;

    private bool Narrow => console.Profile.Width < WideLayout;

    /// <inheritdoc/>
    public override TResult Run<TResult>(Func<TResult> training)
    {
        TResult result = default!;
        int width = console.Profile.Width;
        ProgressColumn[] columns = Narrow
            // description ≤ 34, bar, " 100%", remaining "00:00:00", separated by single spaces.
            ? [new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = Math.Max(8, width - 34 - 5 - 8 - 3 - 2) }, new PercentageColumn(), new RemainingTimeColumn()]
            : [new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn { Width = 28 }, new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn()];
        try
        {
            console.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(columns)
                .Start(ctx =>
                {
                    _context = ctx;
                    result = training();
                    _context = null;
                });
        }
        finally
        {
            // An interrupted run must not leave the terminal without its cursor.
            console.Cursor.Show();
        }

        return result;
    }

    /// <inheritdoc/>
    public override void EpochStarted(int epoch, int epochs, int samples, double learningRate)
    {
        (_epoch, _epochs, _samples) = (epoch, epochs, samples);
        if (_context is null) return;
        if (_run is null)
        {
            // The whole run as one bar: its remaining time is the time left until the last epoch ends.
            _run = _context.AddTask(RunDescription(epoch - 1, epochs), maxValue: Math.Max(1, (double)samples * epochs));
            _run.Value = (double)samples * (epoch - 1);
        }

        _task = _context.AddTask(Markup.Escape(string.Create(Inv, $"epoch {epoch}/{epochs}  lr {learningRate:0.#####}")), maxValue: Math.Max(1, samples));
    }

    private string RunDescription(int done, int epochs) =>
        Narrow ? string.Create(Inv, $"[bold]run[/] {done}/{epochs} done") : string.Create(Inv, $"[bold]whole run[/]  {done}/{epochs} epochs done");

    /// <inheritdoc/>
    public override void BatchDone(int samplesDone, double loss, double accuracy, double learningRate, double samplesPerSecond)
    {
        if (_task is null || _throttle.ElapsedMilliseconds < 100) return;
        _throttle.Restart();
        _task.Value = samplesDone;
        if (_run is not null) _run.Value = (double)_samples * (_epoch - 1) + samplesDone;
        _task.Description = Narrow
            ? string.Create(Inv, $"[bold]{_epoch}/{_epochs}[/] loss [yellow]{loss:0.000}[/] acc [green]{accuracy * 100:0.0}%[/]")
            : string.Create(Inv, $"[bold]epoch {_epoch}/{_epochs}[/]  loss [yellow]{loss:0.0000}[/]  acc [green]{accuracy * 100:0.00}%[/]  lr {learningRate:0.#####}  [grey]{samplesPerSecond:N0}/s[/]");
    }

    /// <inheritdoc/>
    public override void EpochDone(TimedEpoch r, int epochs)
    {
        if (_task is null)
        {
            console.WriteLine(EpochLine(r, epochs));
            return;
        }

        _task.Value = _task.MaxValue;
        if (_run is not null)
        {
            _run.Value = (double)_samples * r.Record.Epoch;
            _run.Description = RunDescription(r.Record.Epoch, epochs);
            if (r.Record.Epoch >= epochs) _run.StopTask();
        }

        string val = r.ValidationAccuracy is not { } va ? ""
            : Narrow ? string.Create(Inv, $" val [aqua]{va * 100:0.0}%[/]") : string.Create(Inv, $"  val [aqua]{va * 100:0.00}%[/]");
        _task.Description = Narrow
            ? string.Create(Inv, $"[bold]{r.Record.Epoch}/{epochs}[/] loss [yellow]{r.Record.TrainingLoss:0.000}[/] acc [green]{r.Record.TrainingAccuracy * 100:0.0}%[/]{val}")
            : string.Create(Inv, $"[bold]epoch {r.Record.Epoch}/{epochs}[/]  loss [yellow]{r.Record.TrainingLoss:0.0000}[/]  acc [green]{r.Record.TrainingAccuracy * 100:0.00}%[/]{val}  lr {r.Record.LearningRate:0.#####}  [grey]{r.SamplesPerSecond:N0}/s[/]");
        _task.StopTask();
        _task = null;
    }

    /// <inheritdoc/>
    public override void Message(string text) => console.MarkupLine("[grey]" + Markup.Escape(text) + "[/]");

    /// <inheritdoc/>
    public override void Results(RunSummary s, string outputDirectory)
    {
        console.WriteLine();
        string colour = s.Verdict switch { ResultVerdict.NearChance => "red", ResultVerdict.FewEpochs => "yellow", _ => "green" };
        console.MarkupLine(string.Create(Inv, $"[bold {colour}]Test accuracy: {s.TestAccuracy * 100:0.00}%[/] [grey]({s.TestCount:N0} images, loss {s.TestLoss:0.0000}, reference: {Markup.Escape(s.Reference)})[/]"));
        if (s.Caveat is { } caveat) console.MarkupLine($"[{colour}]{Markup.Escape(caveat)}[/]");

        var perClass = new Table().Border(TableBorder.Rounded).Title("Per digit");
        foreach (var h in new[] { "digit", "support", "precision", "recall", "F1" }) perClass.AddColumn(new TableColumn(h).RightAligned());
        foreach (var c in s.Classes)
        {
            string f1 = c.F1 < 0.5 ? $"[red]{c.F1.ToString("0.0000", Inv)}[/]" : c.F1.ToString("0.0000", Inv);
            perClass.AddRow(c.Class.ToString(Inv), c.Support.ToString(Inv), c.Precision.ToString("0.0000", Inv), c.Recall.ToString("0.0000", Inv), f1);
        }

        var confusion = new Table().Border(TableBorder.Rounded).Title("Confusion (rows true, columns predicted)");
        confusion.AddColumn(new TableColumn("").RightAligned());
        int k = s.Confusion.Classes;
        for (int c = 0; c < k; c++) confusion.AddColumn(new TableColumn(c.ToString(Inv)).RightAligned());
        for (int r = 0; r < k; r++)
        {
            var cells = new List<string> { $"[bold]{r}[/]" };
            for (int c = 0; c < k; c++)
            {
                long v = s.Confusion[r, c];
                cells.Add(r == c ? $"[green]{v}[/]" : v == 0 ? "[grey]·[/]" : $"[red]{v}[/]");
            }

            confusion.AddRow(cells.ToArray());
        }

        console.Write(new Columns(perClass, confusion));
        console.MarkupLine($"[grey]Outputs written to[/] {Markup.Escape(outputDirectory)}");
    }
}
