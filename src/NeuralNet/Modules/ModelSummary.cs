using System.Globalization;
using System.Text;

namespace NeuralNet.Modules;

/// <summary>One layer of a <see cref="ModelSummary"/>.</summary>
/// <param name="Name">The layer's path, as in <see cref="Module{T}.StateDict"/>: "0", "1", "2.1" inside a nested chain.</param>
/// <param name="Layer">The layer's description, e.g. <c>Dense(784 -> 64)</c>.</param>
/// <param name="OutputShape">The per-example output shape (without the batch dimension).</param>
/// <param name="TrainableParameters">The number of trainable values (the elements of its parameters).</param>
/// <param name="NonTrainableParameters">The number of non-trainable values (the elements of its buffers, e.g. running statistics).</param>
public sealed record ModelSummaryRow(string Name, string Layer, IReadOnlyList<int> OutputShape, long TrainableParameters, long NonTrainableParameters);

/// <summary>A model's layers, output shapes and parameter counts, as Keras' <c>model.summary()</c>; <see cref="ToString"/> is the table.</summary>
/// <param name="Model">The model's name.</param>
/// <param name="InputShape">The per-example input shape.</param>
/// <param name="Rows">One row per layer, in order.</param>
public sealed record ModelSummary(string Model, IReadOnlyList<int> InputShape, IReadOnlyList<ModelSummaryRow> Rows)
{
    /// <summary>The trainable values of every layer.</summary>
    public long TrainableParameters => Rows.Sum(r => r.TrainableParameters);

    /// <summary>The non-trainable values of every layer.</summary>
    public long NonTrainableParameters => Rows.Sum(r => r.NonTrainableParameters);

    /// <summary>Trainable plus non-trainable values.</summary>
    public long TotalParameters => TrainableParameters + NonTrainableParameters;

    /// <summary>The summary as a fixed-width table with a totals footer, invariant culture.</summary>
    public override string ToString()
    {
        var header = ("Layer", "Type", "Output shape", "Param #", "Non-trainable #");
        var cells = Rows.Select(r => (r.Name, r.Layer, "(N, " + string.Join(", ", r.OutputShape) + ")",
            r.TrainableParameters.ToString("N0", CultureInfo.InvariantCulture),
            r.NonTrainableParameters.ToString("N0", CultureInfo.InvariantCulture))).ToList();
        int w0 = Math.Max(header.Item1.Length, cells.Select(c => c.Name.Length).DefaultIfEmpty().Max());
        int w1 = Math.Max(header.Item2.Length, cells.Select(c => c.Layer.Length).DefaultIfEmpty().Max());
        int w2 = Math.Max(header.Item3.Length, cells.Select(c => c.Item3.Length).DefaultIfEmpty().Max());
        int w3 = Math.Max(header.Item4.Length, cells.Select(c => c.Item4.Length).DefaultIfEmpty().Max());
        int w4 = Math.Max(header.Item5.Length, cells.Select(c => c.Item5.Length).DefaultIfEmpty().Max());
        string Line((string A, string B, string C, string D, string E) c) =>
            $"{c.A.PadRight(w0)}  {c.B.PadRight(w1)}  {c.C.PadRight(w2)}  {c.D.PadLeft(w3)}  {c.E.PadLeft(w4)}";
        int width = w0 + w1 + w2 + w3 + w4 + 8;
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"Model: {Model}, input (N, {string.Join(", ", InputShape)})").AppendLine();
        sb.Append('=', width).AppendLine();
        sb.AppendLine(Line(header));
        sb.Append('-', width).AppendLine();
        foreach (var c in cells) sb.AppendLine(Line(c));
        sb.Append('=', width).AppendLine();
        sb.Append(CultureInfo.InvariantCulture, $"Total params: {TotalParameters:N0}").AppendLine();
        sb.Append(CultureInfo.InvariantCulture, $"Trainable params: {TrainableParameters:N0}").AppendLine();
        sb.Append(CultureInfo.InvariantCulture, $"Non-trainable params: {NonTrainableParameters:N0}");
        return sb.ToString();
    }
}
