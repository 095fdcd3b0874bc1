using System.Text.RegularExpressions;
using MnistSample.Report;

namespace NeuralNet.Samples.Tests;

public class ReportTests
{
    [Fact]
    public void ReportContainsEveryChartAndSection()
    {
        var html = HtmlReport.Render(SyntheticRun.Create());

        foreach (var id in new[] { "chart-loss", "chart-accuracy", "chart-learning-rate", "chart-iterations", "confusion-matrix", "per-class", "weights", "misclassified" })
            html.Should().Contain($"id=\"{id}\"", $"the report must have the {id} element");
        Regex.Matches(html, "<svg ").Count.Should().Be(5, "loss, accuracy, learning rate, per-update loss and the confusion heatmap");
        // Training beside validation: two polylines in each of the loss and accuracy charts.
        Regex.Matches(Section(html, "chart-loss"), "<polyline").Count.Should().Be(2);
        Regex.Matches(Section(html, "chart-accuracy"), "<polyline").Count.Should().Be(2);
        Regex.Matches(html, "data:image/png;base64,").Count.Should().Be(64 + 24, "64 weight tiles and 24 misclassified digits");
        html.Should().Contain("97.12%");
    }

    [Fact]
    public void ReportIsSelfContained()
    {
        var html = HtmlReport.Render(SyntheticRun.Create());
        html.Should().NotContainAny("<script", "<link", "@import", "url(");
        // The only URLs allowed are the SVG namespace and data URIs.
        foreach (Match m in Regex.Matches(html, "(?:src|href)=\"([^\"]*)\""))
            m.Groups[1].Value.Should().StartWith("data:image/png;base64,");
        Regex.Matches(html, "https?://").Cast<Match>().Select(m => html.Substring(m.Index, 26)).Distinct()
            .Should().BeEquivalentTo(["http://www.w3.org/2000/svg"]);
    }

    [Fact]
    public void ConvolutionFiltersAreDrawnAsTiles()
    {
        var html = HtmlReport.Render(SyntheticRun.Create(kind: "conv"));
        html.Should().Contain("6 convolution filters (5×5)");
        Regex.Matches(Section(html, "weights"), "<img ").Count.Should().Be(6);
    }

    [Fact]
    public void EmbeddedPngsDecodeToTheirPixels()
    {
        var grey = new byte[28 * 28];
        for (int i = 0; i < grey.Length; i++) grey[i] = (byte)(i * 7 % 256);
        var (w, h, rgba) = PngDecoder.Decode(PngEncoder.EncodeGrey(grey, 28, 28));
        (w, h).Should().Be((28, 28));
        for (int i = 0; i < grey.Length; i++) rgba[4 * i].Should().Be(grey[i]);

        var rgb = new byte[5 * 3 * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 11);
        var (w2, h2, rgba2) = PngDecoder.Decode(PngEncoder.EncodeRgb(rgb, 5, 3));
        (w2, h2).Should().Be((5, 3));
        for (int p = 0; p < 15; p++) rgba2.AsSpan(4 * p, 3).ToArray().Should().Equal(rgb.AsSpan(3 * p, 3).ToArray());
    }

    [Fact]
    public void Crc32MatchesTheStandardCheckValue()
    {
        // The CRC-32/ISO-HDLC check value of "123456789".
        (PngEncoder.Crc32(0xFFFFFFFF, "123456789"u8) ^ 0xFFFFFFFF).Should().Be(0xCBF43926u);
    }

    [Fact]
    public void NiceTicksAreRoundAndCoverTheRange()
    {
        SvgChart.NiceTicks(0.013, 0.87, 6).Should().Equal(0, 0.2, 0.4, 0.6, 0.8, 1.0);
        SvgChart.NiceTicks(1, 20, 8).Should().Equal(0, 5, 10, 15, 20);
        SvgChart.NiceTicks(1, 3, 8, integer: true).Should().Equal([1, 2, 3], "epoch axes never show 1.5");
    }

    internal static string Section(string html, string id)
    {
        int start = html.IndexOf($"id=\"{id}\"", StringComparison.Ordinal);
        start.Should().BeGreaterThan(0, $"element {id} must exist");
        int end = html.IndexOf("</svg>", start, StringComparison.Ordinal);
        int div = html.IndexOf("</div>", start, StringComparison.Ordinal);
        if (end < 0 || (div >= 0 && div < end)) end = div;
        return html[start..end];
    }
}
