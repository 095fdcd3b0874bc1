using System.Globalization;
using System.Text.RegularExpressions;
using MnistSample.ConsoleUi;
using MnistSample.Report;
using Spectre.Console;

namespace NeuralNet.Samples.Tests;

/// <summary>The live console at a fixed width, the report's charts and the verdict on a result.</summary>
public class ConsoleAndReportTests
{
    private static readonly Regex Ansi = new(@"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07", RegexOptions.Compiled);

    [Theory]
    [InlineData(80)]
    [InlineData(100)]
    [InlineData(160)]
    public void LiveProgressFitsTheWidthAndShowsTheWholeRun(int width)
    {
        var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = AnsiSupport.Yes,
            ColorSystem = ColorSystemSupport.TrueColor,
            Interactive = InteractionSupport.Yes,
            Out = new AnsiConsoleOutput(writer),
        });
        console.Profile.Width = width;
        var view = new LiveView(console);
        view.Run(() =>
        {
            for (int epoch = 1; epoch <= 3; epoch++)
            {
                view.EpochStarted(epoch, 3, 60_000, 0.1);
                for (int done = 6_000; done <= 60_000; done += 6_000)
                {
                    view.BatchDone(done, 0.123456, 0.9876, 0.1, 123_456);
                    Thread.Sleep(15);
                }

                view.EpochDone(SyntheticRun.Epoch(epoch, 0.1234, 0.9876, 0.2345, 0.9765, 0.1, 1.5, 40_000), 3);
            }

            return 0;
        });

        // The last frame: after the final cursor-up sequence of the live display.
        string raw = writer.ToString();
        string text = Ansi.Replace(raw, "");
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Trim().Length > 0).ToList();
        lines.Should().OnlyContain(l => l.Length <= width, "no row may be wider than the console");
        var finalFrame = lines.TakeLast(4).ToList();
        finalFrame.Should().HaveCount(4, "one row for the run and one per epoch");
        finalFrame.Should().OnlyContain(l => l.Contains('━'), "each row keeps its bar: nothing wraps onto a second line");
        finalFrame[0].Should().Contain("run").And.Contain("3/3");
        for (int e = 1; e <= 3; e++) finalFrame[e].Should().Contain($"{e}/3");
        raw.Should().Contain("\x1b[?25h", "the cursor is shown again");
    }

    [Fact]
    public void ConstantLearningRateIsAFlatLineAroundItsValue()
    {
        var s = SyntheticRun.Create();
        s = s with { Epochs = s.Epochs.Select(e => e with { Record = e.Record with { LearningRate = 0.1 } }).ToList() };
        string svg = Svg(HtmlReport.Render(s), "chart-learning-rate");
        var ticks = TickLabels(svg);
        ticks.Should().NotContain(t => t < 0, "a learning rate axis has no negative values");
        ticks.Should().Contain(0.1);
        ticks.Min().Should().BeGreaterThan(0);
        var ys = PolylineY(svg);
        ys.Distinct().Should().ContainSingle("a constant rate is a flat line");
        // Plot area: y from 34 to 272 (SvgChart's margins); the line sits in its middle, not at an edge.
        ys[0].Should().BeInRange(34 + 238 * 0.3, 34 + 238 * 0.7);
    }

    [Fact]
    public void LossPerUpdateIsNotSquashedByTheFirstBatches()
    {
        var rng = new Random(3);
        var s = SyntheticRun.Create();
        var iterations = Enumerable.Range(1, 2000)
            .Select(i => SyntheticRun.Iteration(1 + i / 200, i, (0.05 + 2.3 * Math.Exp(-i / 20.0)) * (1 + 0.4 * (rng.NextDouble() - 0.5)), 0.9, 0.1))
            .ToList();
        s = s with { Iterations = iterations };
        string svg = Svg(HtmlReport.Render(s), "chart-iterations");
        svg.Should().Contain("log scale");
        var ys = PolylineY(svg);
        var late = ys.Skip(ys.Count / 10).ToList();
        double share = (late.Max() - late.Min()) / 238;
        share.Should().BeGreaterThan(0.05, "the updates after the first tenth use a visible part of the plot (a linear axis gave them under 1%)");
    }

    [Fact]
    public void F1BarsOfCloseScoresDifferVisibly()
    {
        var s = SyntheticRun.Create();
        var classes = s.Classes.Select((c, i) => c with { F1 = i == 0 ? 0.95 : i == 1 ? 0.98 : 0.97 }).ToList();
        string html = HtmlReport.Render(s with { Classes = classes });
        var widths = Regex.Matches(html, @"data-f1=""([0-9.]+)"" style=""width:([0-9.]+)px""")
            .GroupBy(m => m.Groups[1].Value).ToDictionary(g => g.Key, g => double.Parse(g.First().Groups[2].Value, CultureInfo.InvariantCulture));
        (widths["0.9800"] - widths["0.9500"]).Should().BeGreaterThan(10, "a 0.03 difference in F1 must show (it was 1.8 px)");
        html.Should().Contain("bars from 0.9 to 1");
        html.Should().Contain("max-width:100%", "charts shrink to fit their container");
    }

    [Fact]
    public void NearChanceOrFewEpochsIsNotShownAsASuccess()
    {
        var good = SyntheticRun.Create();
        good.Verdict.Should().Be(ResultVerdict.Trained);
        good.Caveat.Should().BeNull();
        HtmlReport.Render(good).Should().Contain("class=\"card big\"");

        var chance = good with { TestAccuracy = 0.1135 };
        chance.Verdict.Should().Be(ResultVerdict.NearChance);
        chance.Caveat.Should().StartWith("Near chance: 11.35% is close to the 10% of guessing among 10 classes");
        HtmlReport.Render(chance).Should().Contain("class=\"card big bad\"").And.Contain("Near chance");
        var writer = new StringWriter();
        new PlainView(writer).Results(chance, "out");
        writer.ToString().Should().Contain("Note: Near chance");

        var oneEpoch = SyntheticRun.Create(epochs: 1);
        oneEpoch.Verdict.Should().Be(ResultVerdict.FewEpochs);
        oneEpoch.Caveat.Should().Be("Only 1 epoch of training: a quick check, not the preset's result.");
        HtmlReport.Render(oneEpoch).Should().Contain("class=\"card big warn\"");
        RunSummary.Plural(2, "epoch").Should().Be("2 epochs");
    }

    private static string Svg(string html, string id)
    {
        int start = html.IndexOf($"<svg id=\"{id}\"", StringComparison.Ordinal);
        start.Should().BeGreaterThanOrEqualTo(0, $"the report has #{id}");
        return html[start..(html.IndexOf("</svg>", start, StringComparison.Ordinal) + 6)];
    }

    private static List<double> TickLabels(string svg) =>
        Regex.Matches(svg, @"text-anchor=""end"" class=""tick"">([^<]+)<").Select(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();

    private static List<double> PolylineY(string svg)
    {
        var points = Regex.Match(svg, @"<polyline[^>]*points=""([^""]+)""").Groups[1].Value;
        return points.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(p => double.Parse(p.Split(',')[1], CultureInfo.InvariantCulture)).ToList();
    }
}
