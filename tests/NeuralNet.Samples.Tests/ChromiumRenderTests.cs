using System.Diagnostics;
using MnistSample.Report;

namespace NeuralNet.Samples.Tests;

/// <summary>
/// Renders report.html in headless Chromium (Debian package <c>chromium</c>): the DOM must hold the charts and the
/// screenshot must show them. CI needs <c>apt-get install -y chromium</c> (<c>.ci/run</c> installs it).
/// </summary>
public class ChromiumRenderTests
{
    [ChromiumFact]
    public void ReportRendersInHeadlessChromium()
    {
        string chromium = FindChromium() ?? throw new InvalidOperationException("chromium not found on PATH: install it with 'apt-get install -y chromium' (the report render check needs it).");
        using var dir = new TempDir();
        string html = Path.Combine(dir.Path, "report.html");
        HtmlReport.Write(html, SyntheticRun.Create());
        string png = Path.Combine(dir.Path, "shot.png");

        string dom = RunChromium(chromium, dir.Path, "--dump-dom", html);
        foreach (var id in new[] { "chart-loss", "chart-accuracy", "chart-learning-rate", "confusion-matrix", "weights", "misclassified" })
            dom.Should().Contain($"id=\"{id}\"", "Chromium's DOM must contain the {0} element", id);
        dom.Should().Contain("<polyline");

        RunChromium(chromium, dir.Path, $"--screenshot={png} --window-size=1200,2000", html);
        File.Exists(png).Should().BeTrue("Chromium must write the screenshot");
        // For looking at the page by eye: NEURALNET_REPORT_SHOT=/tmp/report.png dotnet test …
        if (Environment.GetEnvironmentVariable("NEURALNET_REPORT_SHOT") is { Length: > 0 } keep) File.Copy(png, keep, overwrite: true);
        var (w, h, rgba) = PngDecoder.Decode(File.ReadAllBytes(png));
        (w, h).Should().Be((1200, 2000));

        // The training-curve blue (#1f77b4) and validation orange (#ff7f0e) must be on screen, and the page must not be blank.
        int blue = 0, orange = 0, nonBackground = 0;
        for (int p = 0; p < w * h; p++)
        {
            int r = rgba[4 * p], g = rgba[4 * p + 1], b = rgba[4 * p + 2];
            if (Near(r, 0x1f) && Near(g, 0x77) && Near(b, 0xb4)) blue++;
            if (Near(r, 0xff) && Near(g, 0x7f) && Near(b, 0x0e)) orange++;
            if (!(r > 240 && g > 240 && b > 240)) nonBackground++;
        }

        blue.Should().BeGreaterThan(300, "the training curves are drawn in #1f77b4");
        orange.Should().BeGreaterThan(300, "the validation curves are drawn in #ff7f0e");
        nonBackground.Should().BeGreaterThan(w * h / 50, "a rendered report is not a blank page");
    }

    private static bool Near(int a, int b) => Math.Abs(a - b) <= 12;

    internal static string? FindChromium()
    {
        foreach (var name in new[] { "chromium", "chromium-browser", "google-chrome" })
            foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
            {
                var path = Path.Combine(dir, name);
                if (File.Exists(path)) return path;
            }

        return null;
    }

    internal static string RunChromium(string chromium, string workDir, string extra, string htmlPath)
    {
        string profile = Path.Combine(workDir, "profile-" + Guid.NewGuid().ToString("N"));
        var psi = new ProcessStartInfo(chromium,
            $"--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run " +
            $"--disable-dev-shm-usage --hide-scrollbars --user-data-dir={profile} {extra} file://{htmlPath}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(90)))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException("chromium did not finish within 90 s");
        }

        p.ExitCode.Should().Be(0, "chromium failed: {0}", stderr.Result);
        return stdout.Result;
    }
}

internal sealed class TempDir : IDisposable
{
    public TempDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "nn-samples-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>
/// A fact that needs Chromium: reported as skipped, with the reason, on a machine without it; under <c>CI=true</c> it
/// runs anyway and so fails with the install hint, never hiding the check.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ChromiumFactAttribute : FactAttribute
{
    /// <summary>Decides at discovery whether the test can run here.</summary>
    public ChromiumFactAttribute()
    {
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (!ci && ChromiumRenderTests.FindChromium() is null)
            Skip = "Chromium is not installed (apt-get install -y chromium); under CI=true this is a failure, not a skip";
    }
}
