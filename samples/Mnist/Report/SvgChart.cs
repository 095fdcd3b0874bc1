using NeuralNet.Evaluation;
using System.Globalization;
using System.Text;

namespace MnistSample.Report;

/// <summary>One line of a chart.</summary>
/// <param name="Name">Legend text.</param>
/// <param name="Color">CSS colour.</param>
/// <param name="X">X values.</param>
/// <param name="Y">Y values (non-finite points are skipped).</param>
/// <param name="Dashed">Draw dashed.</param>
public sealed record Series(string Name, string Color, double[] X, double[] Y, bool Dashed = false);

/// <summary>Draws line charts and heatmaps as inline SVG, with no scripts.</summary>
public static class SvgChart
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>A line chart with axes, ticks, grid and legend.</summary>
    /// <param name="id">The SVG element id (tests and the DOM check look for it).</param>
    /// <param name="title">Title above the plot.</param>
    /// <param name="xLabel">X axis label.</param>
    /// <param name="yLabel">Y axis label.</param>
    /// <param name="series">The lines.</param>
    /// <param name="percent">Format y ticks as percentages (values in [0, 1]).</param>
    /// <param name="logY">Logarithmic y axis (values must be positive).</param>
    /// <param name="integerX">X values are counts (epochs, updates): ticks only at whole numbers.</param>
    public static string Line(string id, string title, string xLabel, string yLabel, IReadOnlyList<Series> series, bool percent = false, bool logY = false, bool integerX = true)
    {
        const int W = 560, H = 320, L = 64, R = 16, T = 34, B = 48;
        int pw = W - L - R, ph = H - T - B;
        var pts = series.SelectMany(s => s.X.Zip(s.Y)).Where(p => double.IsFinite(p.First) && double.IsFinite(p.Second) && (!logY || p.Second > 0)).ToList();
        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg id=\"{id}\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{Esc(title)}\">");
        sb.Append(Inv, $"<rect x=\"0\" y=\"0\" width=\"{W}\" height=\"{H}\" fill=\"#fff\"/>");
        sb.Append(Inv, $"<text x=\"{W / 2}\" y=\"20\" text-anchor=\"middle\" class=\"ctitle\">{Esc(title)}</text>");
        if (pts.Count == 0)
        {
            sb.Append(Inv, $"<text x=\"{W / 2}\" y=\"{H / 2}\" text-anchor=\"middle\" class=\"muted\">no data</text></svg>");
            return sb.ToString();
        }

        double xmin = pts.Min(p => p.First), xmax = pts.Max(p => p.First);
        if (xmax <= xmin) { xmin -= 0.5; xmax += 0.5; }
        Func<double, double> fy = logY ? Math.Log10 : v => v;
        double ymin = pts.Min(p => fy(p.Second)), ymax = pts.Max(p => fy(p.Second));
        if (ymax - ymin <= 1e-9 * Math.Max(1, Math.Abs(ymax)))
        {
            // A constant series (a constant learning rate): centre the axis on its value, so the line is drawn where
            // it is, on ticks that name it, rather than at the edge of an axis around zero.
            double half = logY ? 0.5 : ymax == 0 ? 1 : Math.Abs(ymax) * 0.5;
            ymin -= half;
            ymax += half;
        }

        double[] yTicks;
        if (logY)
        {
            // Ticks at 1, 2 and 5 times powers of ten inside the data's range (padded by a twentieth of it), so the
            // axis spans the data rather than whole decades.
            double pad = (ymax - ymin) * 0.05;
            ymin -= pad;
            ymax += pad;
            yTicks = LogTicks(ymin, ymax);
        }
        else
        {
            double pad = (ymax - ymin) * 0.05;
            // Losses, rates and accuracies are never negative: do not let the padding invent a negative axis.
            double low = ymin >= 0 ? Math.Max(0, ymin - pad) : ymin - pad;
            double high = percent && ymax <= 1 ? Math.Min(1, ymax + pad) : ymax + pad;
            yTicks = NiceTicks(low, high, 6);
            ymin = yTicks[0]; ymax = yTicks[^1];
        }

        var xTicks = NiceTicks(xmin, xmax, 8, integerX).Where(v => v >= xmin - 1e-9 && v <= xmax + 1e-9).ToArray();
        double X(double v) => L + (v - xmin) / (xmax - xmin) * pw;
        double Y(double v) => T + ph - (fy(v) - ymin) / (ymax - ymin) * ph;
        double Yraw(double v) => T + ph - (v - ymin) / (ymax - ymin) * ph;

        foreach (var t in yTicks)
        {
            double y = Yraw(t);
            string label = logY ? FormatNumber(Math.Round(Math.Pow(10, t), 12)) : percent ? (t * 100).ToString("0.##", Inv) + "%" : FormatNumber(t);
            sb.Append(Inv, $"<line x1=\"{L}\" x2=\"{L + pw}\" y1=\"{y:0.##}\" y2=\"{y:0.##}\" class=\"grid\"/>");
            sb.Append(Inv, $"<text x=\"{L - 6}\" y=\"{y + 4:0.##}\" text-anchor=\"end\" class=\"tick\">{label}</text>");
        }

        foreach (var t in xTicks)
        {
            double x = X(t);
            sb.Append(Inv, $"<line x1=\"{x:0.##}\" x2=\"{x:0.##}\" y1=\"{T + ph}\" y2=\"{T + ph + 5}\" class=\"axis\"/>");
            sb.Append(Inv, $"<text x=\"{x:0.##}\" y=\"{T + ph + 18}\" text-anchor=\"middle\" class=\"tick\">{FormatNumber(t)}</text>");
        }

        sb.Append(Inv, $"<rect x=\"{L}\" y=\"{T}\" width=\"{pw}\" height=\"{ph}\" class=\"frame\"/>");
        sb.Append(Inv, $"<text x=\"{L + pw / 2}\" y=\"{H - 8}\" text-anchor=\"middle\" class=\"label\">{Esc(xLabel)}</text>");
        sb.Append(Inv, $"<text transform=\"translate(16 {T + ph / 2}) rotate(-90)\" text-anchor=\"middle\" class=\"label\">{Esc(yLabel)}</text>");

        int legendX = L + 10;
        foreach (var s in series)
        {
            var points = new StringBuilder();
            int n = Math.Min(s.X.Length, s.Y.Length), drawn = 0;
            for (int i = 0; i < n; i++)
            {
                if (!double.IsFinite(s.X[i]) || !double.IsFinite(s.Y[i]) || (logY && s.Y[i] <= 0)) continue;
                points.Append(Inv, $"{X(s.X[i]):0.##},{Y(s.Y[i]):0.##} ");
                drawn++;
            }

            if (drawn == 0) continue;
            string dash = s.Dashed ? " stroke-dasharray=\"6 4\"" : "";
            if (drawn == 1)
            {
                var p = points.ToString().Trim().Split(',');
                sb.Append(Inv, $"<circle cx=\"{p[0]}\" cy=\"{p[1]}\" r=\"3\" fill=\"{s.Color}\"/>");
            }
            else
            {
                sb.Append(Inv, $"<polyline class=\"series\" fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"2\"{dash} points=\"{points.ToString().TrimEnd()}\"/>");
            }

            sb.Append(Inv, $"<line x1=\"{legendX}\" x2=\"{legendX + 22}\" y1=\"{T + 14}\" y2=\"{T + 14}\" stroke=\"{s.Color}\" stroke-width=\"3\"{dash}/>");
            sb.Append(Inv, $"<text x=\"{legendX + 27}\" y=\"{T + 18}\" class=\"legend\">{Esc(s.Name)}</text>");
            legendX += 40 + s.Name.Length * 7;
        }

        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>True when positive values span more than a factor of ten, so a linear axis would squash the later ones.</summary>
    public static bool SpansDecades(IEnumerable<double> values)
    {
        var positive = values.Where(v => double.IsFinite(v) && v > 0).ToList();
        return positive.Count > 1 && positive.Max() / positive.Min() > 10;
    }

    /// <summary>log10 of the values 1, 2 and 5 × 10^k that lie in [10^lo, 10^hi], or every decade when there are many.</summary>
    private static double[] LogTicks(double lo, double hi)
    {
        var ticks = new List<double>();
        for (int k = (int)Math.Floor(lo); k <= (int)Math.Ceiling(hi); k++)
            foreach (double m in (double[])[1, 2, 5])
            {
                double t = k + Math.Log10(m);
                if (t >= lo && t <= hi) ticks.Add(t);
            }

        if (ticks.Count > 8) ticks.RemoveAll(t => Math.Abs(t - Math.Round(t)) > 1e-9);
        if (ticks.Count < 2) return [lo, hi];
        return [.. ticks];
    }

    /// <summary>A 10×10 confusion heatmap, each row shaded by its share of the true class, with the counts written in.</summary>
    public static string Confusion(string id, ConfusionMatrix confusion)
    {
        int k = confusion.Classes;
        const int cell = 44, L = 70, T = 56;
        int W = L + k * cell + 20, H = T + k * cell + 20;
        var sb = new StringBuilder();
        sb.Append(Inv, $"<svg id=\"{id}\" class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"Confusion matrix\">");
        sb.Append(Inv, $"<rect width=\"{W}\" height=\"{H}\" fill=\"#fff\"/>");
        sb.Append(Inv, $"<text x=\"{L + k * cell / 2}\" y=\"18\" text-anchor=\"middle\" class=\"label\">predicted</text>");
        sb.Append(Inv, $"<text transform=\"translate(18 {T + k * cell / 2}) rotate(-90)\" text-anchor=\"middle\" class=\"label\">true</text>");
        for (int c = 0; c < k; c++)
        {
            sb.Append(Inv, $"<text x=\"{L + c * cell + cell / 2}\" y=\"{T - 8}\" text-anchor=\"middle\" class=\"tick\">{c}</text>");
            sb.Append(Inv, $"<text x=\"{L - 8}\" y=\"{T + c * cell + cell / 2 + 4}\" text-anchor=\"end\" class=\"tick\">{c}</text>");
        }

        for (int r = 0; r < k; r++)
        {
            double rowTotal = Math.Max(1, Enumerable.Range(0, k).Sum(c => confusion[r, c]));
            for (int c = 0; c < k; c++)
            {
                double share = confusion[r, c] / rowTotal;
                // Diagonal cells in blue, errors in red; sqrt so that small error rates stay visible.
                double a = Math.Sqrt(share);
                var (cr, cg, cb) = r == c ? (33, 102, 172) : (203, 24, 29);
                int R = (int)Math.Round(255 + (cr - 255) * a), G = (int)Math.Round(255 + (cg - 255) * a), B = (int)Math.Round(255 + (cb - 255) * a);
                string text = a > 0.6 ? "#fff" : "#222";
                int x = L + c * cell, y = T + r * cell;
                sb.Append(Inv, $"<rect x=\"{x}\" y=\"{y}\" width=\"{cell - 1}\" height=\"{cell - 1}\" fill=\"rgb({R},{G},{B})\"><title>true {r}, predicted {c}: {confusion[r, c]} ({share * 100:0.0}%)</title></rect>");
                sb.Append(Inv, $"<text x=\"{x + cell / 2}\" y=\"{y + cell / 2 + 4}\" text-anchor=\"middle\" class=\"cell\" fill=\"{text}\">{confusion[r, c]}</text>");
            }
        }

        sb.Append("</svg>");
        return sb.ToString();
    }

    /// <summary>About <paramref name="count"/> round tick values covering [lo, hi] (1, 2, 2.5 or 5 times a power of ten apart).</summary>
    /// <param name="lo">Lowest value to cover.</param>
    /// <param name="hi">Highest value to cover.</param>
    /// <param name="count">About how many ticks.</param>
    /// <param name="integer">Steps of at least 1 and whole (for counts such as epochs).</param>
    public static double[] NiceTicks(double lo, double hi, int count, bool integer = false)
    {
        if (!(hi > lo)) return [lo];
        double raw = (hi - lo) / Math.Max(1, count - 1);
        if (integer) raw = Math.Max(raw, 1);
        double mag = Math.Pow(10, Math.Floor(Math.Log10(raw)));
        double step = (integer ? new[] { 1.0, 2, 5, 10 } : new[] { 1, 2, 2.5, 5, 10 }).Select(m => m * mag).First(s => s >= raw);
        double start = Math.Floor(lo / step) * step, end = Math.Ceiling(hi / step) * step;
        int n = (int)Math.Round((end - start) / step);
        return Enumerable.Range(0, n + 1).Select(i => Math.Round(start + i * step, 12)).ToArray();
    }

    private static string FormatNumber(double v)
    {
        double a = Math.Abs(v);
        if (a == 0) return "0";
        if (a >= 1_000_000) return v.ToString("0.#e0", Inv);
        if (a >= 10_000) return v.ToString("#,0", Inv);
        if (a >= 100) return v.ToString("0", Inv);
        if (a >= 1) return v.ToString("0.##", Inv);
        if (a >= 0.001) return v.ToString("0.####", Inv);
        return v.ToString("0.#e0", Inv);
    }

    /// <summary>HTML/XML-escapes text.</summary>
    /// <remarks>Only the five markup characters are replaced; the page is UTF-8, so ×, → and ² stay readable in the source.</remarks>
    public static string Esc(string s) =>
        s.Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&quot;").Replace("'", "&#39;");
}
