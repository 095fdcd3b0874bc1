using System.Globalization;
using System.Text;

namespace NeuralNet.Evaluation;

/// <summary>The one-vs-rest figures of one class.</summary>
/// <param name="Class">The class index.</param>
/// <param name="TruePositives">Examples of this class predicted as this class.</param>
/// <param name="FalsePositives">Examples of other classes predicted as this class.</param>
/// <param name="FalseNegatives">Examples of this class predicted as another class.</param>
/// <param name="TrueNegatives">Examples of other classes predicted as another class.</param>
/// <param name="Precision">TP / (TP + FP), or 0 when nothing was predicted as this class.</param>
/// <param name="Recall">TP / (TP + FN), or 0 when the class has no examples.</param>
/// <param name="F1">2·P·R / (P + R), or 0 when P + R = 0.</param>
/// <param name="Support">The number of examples of this class (TP + FN).</param>
public readonly record struct ClassMetrics(
    int Class, long TruePositives, long FalsePositives, long FalseNegatives, long TrueNegatives,
    double Precision, double Recall, double F1, long Support);

/// <summary>
/// A confusion matrix: <c>Counts[actual, predicted]</c> is the number of examples of class <c>actual</c> predicted as
/// <c>predicted</c>; with accuracy, per-class TP/FP/FN/TN, precision, recall, F1 and their macro averages.
/// </summary>
/// <remarks>
/// <para>Rows are true classes, columns predictions. <see cref="Percent"/> divides each row by its total (the percentage of
/// each true class), a row with no examples gives zeros.</para>
/// <para>Precision, recall and F1 of a class with a zero denominator are 0 (scikit-learn's <c>zero_division=0</c>). Macro
/// averages are unweighted means over all classes.</para>
/// </remarks>
public sealed class ConfusionMatrix
{
    private readonly long[,] _counts;

    /// <summary>Creates an empty matrix for <paramref name="classes"/> classes.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="classes"/> is less than 1.</exception>
    public ConfusionMatrix(int classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        Classes = classes;
        _counts = new long[classes, classes];
    }

    /// <summary>Builds a matrix from predicted and actual labels.</summary>
    /// <exception cref="ArgumentException">The spans differ in length or a label is outside [0, classes).</exception>
    public static ConfusionMatrix FromLabels(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted, int classes)
    {
        var m = new ConfusionMatrix(classes);
        m.Add(actual, predicted);
        return m;
    }

    /// <summary>The number of classes.</summary>
    public int Classes { get; }

    /// <summary>The total number of examples counted.</summary>
    public long Total { get; private set; }

    /// <summary>The count of examples of class <paramref name="actual"/> predicted as <paramref name="predicted"/>.</summary>
    public long this[int actual, int predicted] => _counts[actual, predicted];

    /// <summary>A copy of the counts, [actual, predicted].</summary>
    public long[,] Counts => (long[,])_counts.Clone();

    /// <summary>Adds one example.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A label is outside [0, <see cref="Classes"/>).</exception>
    public void Add(int actual, int predicted)
    {
        if ((uint)actual >= (uint)Classes)
            throw new ArgumentOutOfRangeException(nameof(actual), $"ConfusionMatrix: actual label {actual} is outside [0, {Classes}).");
        if ((uint)predicted >= (uint)Classes)
            throw new ArgumentOutOfRangeException(nameof(predicted), $"ConfusionMatrix: predicted label {predicted} is outside [0, {Classes}).");
        _counts[actual, predicted]++;
        Total++;
    }

    /// <summary>Adds many examples.</summary>
    /// <exception cref="ArgumentException">The spans differ in length or a label is out of range (nothing is added then).</exception>
    public void Add(ReadOnlySpan<int> actual, ReadOnlySpan<int> predicted)
    {
        if (actual.Length != predicted.Length)
            throw new ArgumentException($"ConfusionMatrix: {actual.Length} actual labels but {predicted.Length} predictions.", nameof(predicted));
        for (int i = 0; i < actual.Length; i++)
        {
            if ((uint)actual[i] >= (uint)Classes)
                throw new ArgumentException($"ConfusionMatrix: actual label {actual[i]} at index {i} is outside [0, {Classes}).", nameof(actual));
            if ((uint)predicted[i] >= (uint)Classes)
                throw new ArgumentException($"ConfusionMatrix: predicted label {predicted[i]} at index {i} is outside [0, {Classes}).", nameof(predicted));
        }
        for (int i = 0; i < actual.Length; i++) _counts[actual[i], predicted[i]]++;
        Total += actual.Length;
    }

    /// <summary>The fraction of examples on the diagonal, or 0 when empty.</summary>
    public double Accuracy
    {
        get
        {
            long correct = 0;
            for (int c = 0; c < Classes; c++) correct += _counts[c, c];
            return Total == 0 ? 0 : (double)correct / Total;
        }
    }

    /// <summary>The matrix in percent of each true class: 100·Counts[a, p] / Σ_p Counts[a, p] (a row without examples is zero).</summary>
    public double[,] Percent
    {
        get
        {
            var result = new double[Classes, Classes];
            for (int a = 0; a < Classes; a++)
            {
                long row = RowTotal(a);
                if (row == 0) continue;
                for (int p = 0; p < Classes; p++) result[a, p] = 100.0 * _counts[a, p] / row;
            }
            return result;
        }
    }

    /// <summary>The one-vs-rest figures of class <paramref name="c"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="c"/> is outside [0, <see cref="Classes"/>).</exception>
    public ClassMetrics ForClass(int c)
    {
        if ((uint)c >= (uint)Classes)
            throw new ArgumentOutOfRangeException(nameof(c), $"ConfusionMatrix: class {c} is outside [0, {Classes}).");
        long tp = _counts[c, c];
        long fn = RowTotal(c) - tp;
        long fp = 0;
        for (int a = 0; a < Classes; a++) if (a != c) fp += _counts[a, c];
        long tn = Total - tp - fn - fp;
        double precision = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
        double recall = tp + fn == 0 ? 0 : (double)tp / (tp + fn);
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new ClassMetrics(c, tp, fp, fn, tn, precision, recall, f1, tp + fn);
    }

    /// <summary>The figures of every class, in class order.</summary>
    public IReadOnlyList<ClassMetrics> PerClass()
    {
        var list = new ClassMetrics[Classes];
        for (int c = 0; c < Classes; c++) list[c] = ForClass(c);
        return list;
    }

    /// <summary>The unweighted mean of the per-class precisions.</summary>
    public double MacroPrecision => Macro(m => m.Precision);

    /// <summary>The unweighted mean of the per-class recalls.</summary>
    public double MacroRecall => Macro(m => m.Recall);

    /// <summary>The unweighted mean of the per-class F1 scores.</summary>
    public double MacroF1 => Macro(m => m.F1);

    /// <summary>A fixed-width text table of the counts (rows: actual, columns: predicted).</summary>
    public string ToText(bool percent = false)
    {
        var sb = new StringBuilder();
        var pct = percent ? Percent : null;
        sb.Append("actual\\pred");
        for (int p = 0; p < Classes; p++) sb.Append(CultureInfo.InvariantCulture, $"{p,8}");
        sb.AppendLine();
        for (int a = 0; a < Classes; a++)
        {
            sb.Append(CultureInfo.InvariantCulture, $"{a,11}");
            for (int p = 0; p < Classes; p++)
            {
                if (pct is null) sb.Append(CultureInfo.InvariantCulture, $"{_counts[a, p],8}");
                else sb.Append(CultureInfo.InvariantCulture, $"{pct[a, p],8:F2}");
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => $"ConfusionMatrix({Classes} classes, {Total} examples, accuracy {Accuracy.ToString("P2", CultureInfo.InvariantCulture)})";

    private long RowTotal(int a)
    {
        long s = 0;
        for (int p = 0; p < Classes; p++) s += _counts[a, p];
        return s;
    }

    private double Macro(Func<ClassMetrics, double> select)
    {
        double sum = 0;
        for (int c = 0; c < Classes; c++) sum += select(ForClass(c));
        return sum / Classes;
    }
}
