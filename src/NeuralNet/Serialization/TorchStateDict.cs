using System.Numerics;
using NeuralNet.Modules;

namespace NeuralNet.Serialization;

/// <summary>
/// Reads and writes a model's weights in the layout of a PyTorch <c>nn.Sequential</c> state dict saved as safetensors:
/// tensors named by child index and parameter (<c>0.weight</c>, <c>0.bias</c>, <c>3.weight</c>, nested
/// <c>2.0.weight</c>), shaped as PyTorch shapes them (Linear/Dense weight (out, in), Conv2d weight (OC, C, K, K)),
/// float32. A PyTorch user loads a file written here with <c>safetensors.torch.load_file</c> and
/// <c>model.load_state_dict</c>; a file saved from PyTorch (<c>save_file(model.state_dict(), ...)</c>) loads into the
/// equivalent NeuralNet model.
/// </summary>
/// <remarks>
/// <para>This lives in the core because it needs nothing but <see cref="SafeTensorsFile"/>: no protobuf, no ONNX.</para>
/// <para>Only weights move: the architecture must be built on both sides (NeuralNet's Dense and Conv2D store weights
/// exactly as PyTorch's Linear and Conv2d do, so no transposition is involved). The names are those of
/// <see cref="Module{T}.StateDict"/>, so module buffers (<see cref="Module{T}.Buffers"/>, e.g. a batch normalization's
/// <c>running_mean</c> and <c>running_var</c>) are included. A buffer named <c>num_batches_tracked</c> is written as
/// PyTorch keeps it, an int64 scalar of shape <c>[]</c> (NeuralNet stores the count in the element type, shape (1)),
/// and read back from that layout.</para>
/// <para>Loading is strict like <c>load_state_dict(strict=True)</c>: every parameter and buffer must be present with
/// the expected shape, and no tensor may be left over; a common prefix such as <c>layers.</c> or <c>model.</c> (a
/// Sequential held as an attribute of an <c>nn.Module</c>) is recognized and stripped.</para>
/// </remarks>
public static class TorchStateDict
{
    /// <summary>The metadata entry PyTorch's safetensors writer adds (<c>format: pt</c>), written here too.</summary>
    public const string FormatKey = "format";

    /// <summary>The name of PyTorch's batch counter buffer, an int64 scalar in a PyTorch state dict.</summary>
    public const string NumBatchesTrackedName = "num_batches_tracked";

    /// <summary>Every parameter and buffer of <paramref name="model"/> with its state-dict name, in model order (the
    /// names of <see cref="Module{T}.StateDict"/>; the tensors are the model's own, not copies).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="model">The model.</param>
    /// <exception cref="ArgumentException">Two tensors would share a name.</exception>
    public static IReadOnlyList<(string Name, NdArray<T> Tensor)> Entries<T>(Sequential<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        var result = model.StateEntries();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in result)
            if (!seen.Add(name))
                throw new ArgumentException($"TorchStateDict: two tensors are both named '{name}'.", nameof(model));
        return result;
    }

    /// <summary>The model's weights as a safetensors file in memory, in PyTorch's layout, float32.</summary>
    /// <typeparam name="T">The element type (converted to float32, the dtype of PyTorch's default parameters).</typeparam>
    /// <param name="model">The model.</param>
    /// <remarks>Buffers named <c>num_batches_tracked</c> are written as int64 scalars (shape <c>[]</c>), as PyTorch has them.</remarks>
    public static SafeTensorsFile ToSafeTensors<T>(Sequential<T> model) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var file = new SafeTensorsFile();
        file.Metadata[FormatKey] = "pt";
        foreach (var (name, tensor) in Entries(model))
        {
            if (IsBatchCounter(name, tensor))
            {
                // A count kept in the element type; PyTorch's load_state_dict(strict=True) wants int64 of shape [].
                file.AddScalar(name, long.CreateChecked(T.Round(tensor.Data[0])));
                continue;
            }
            file.Add(name, typeof(T) == typeof(float) ? (NdArray<float>)(object)tensor : tensor.Cast<float>());
        }
        return file;
    }

    /// <summary>Saves the model's weights to <paramref name="path"/> in PyTorch's state-dict layout (atomically).</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="model">The model.</param>
    /// <param name="path">The target file, conventionally <c>*.safetensors</c>; its directory must exist.</param>
    public static void Save<T>(Sequential<T> model, string path) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        ToSafeTensors(model).Save(path);
    }

    /// <summary>Loads PyTorch state-dict weights from a safetensors file into <paramref name="model"/>, in place.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="model">A model with the same architecture as the one that was saved.</param>
    /// <param name="path">A safetensors file (from PyTorch or <see cref="Save{T}"/>).</param>
    /// <param name="prefix">The prefix before the child index (e.g. <c>layers.</c>); null detects it.</param>
    /// <exception cref="InvalidDataException">The file is malformed, or a tensor is missing, extra, of the wrong shape or
    /// type; the message names the file and the tensor. The model is unchanged then.</exception>
    public static void Load<T>(Sequential<T> model, string path, string? prefix = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Load(model, SafeTensorsFile.Load(path, requireChecksum: false), prefix);
    }

    /// <summary>Loads PyTorch state-dict weights from a parsed safetensors file into <paramref name="model"/>, in place.</summary>
    /// <typeparam name="T">The element type.</typeparam>
    /// <param name="model">A model with the same architecture as the one that was saved.</param>
    /// <param name="file">The parsed file.</param>
    /// <param name="prefix">The prefix before the child index (e.g. <c>layers.</c>); null detects it.</param>
    /// <exception cref="InvalidDataException">A tensor is missing, extra, of the wrong shape or type; the model is unchanged then.</exception>
    public static void Load<T>(Sequential<T> model, SafeTensorsFile file, string? prefix = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(file);
        string source = file.Source ?? "safetensors";
        prefix ??= DetectPrefix(file);
        var entries = Entries(model);
        var expected = new HashSet<string>(entries.Select(e => prefix + e.Name), StringComparer.Ordinal);
        var extra = file.Tensors.Select(t => t.Name).Where(n => !expected.Contains(n)).ToList();
        var missing = entries.Select(e => prefix + e.Name).Where(n => !file.Contains(n)).ToList();
        if (missing.Count > 0 || extra.Count > 0)
            throw new InvalidDataException(
                $"TorchStateDict: {source} does not match the model ({Summary(model)}): "
                + (missing.Count > 0 ? $"missing {string.Join(", ", missing.Take(8))}{(missing.Count > 8 ? ", ..." : "")}" : "")
                + (missing.Count > 0 && extra.Count > 0 ? "; " : "")
                + (extra.Count > 0 ? $"unexpected {string.Join(", ", extra.Take(8))}{(extra.Count > 8 ? ", ..." : "")}" : "") + ".");

        // Decode and check everything first, so a bad file leaves the model unchanged.
        var values = new Dictionary<string, NdArray<T>>(entries.Count, StringComparer.Ordinal);
        foreach (var (name, target) in entries)
        {
            var entry = file.GetRequired(prefix + name);
            if (!entry.Shape.SequenceEqual(target.Shape) && !(entry.ElementCount == 1 && target.Length == 1 && entry.Shape.Length == 0))
                throw new InvalidDataException(
                    $"TorchStateDict: {source}: tensor '{prefix + name}' has shape {NdArray<T>.ShapeToString(entry.Shape)}, the model expects {target.ShapeString}.");
            T[] data;
            if (entry.DType is SafeTensorDType.I64)
            {
                // PyTorch keeps counters such as num_batches_tracked as int64 scalars.
                data = entry.ToInt64Array().Select(v => T.CreateChecked(v)).ToArray();
            }
            else if (entry.DType is SafeTensorDType.F32 or SafeTensorDType.F64)
            {
                data = entry.ElementCount == 0 ? [] : entry.ToNdArray<T>().Data;
            }
            else
            {
                throw new InvalidDataException($"TorchStateDict: {source}: tensor '{prefix + name}' is {entry.DType}; expected F32 or F64.");
            }
            values.Add(name, new NdArray<T>(data, target.ShapeArray()));
        }
        // The copy goes through the module's own state-dict naming, the one definition shared with Module.StateDict.
        model.LoadStateDict(values, strict: true);
    }

    private static string DetectPrefix(SafeTensorsFile file)
    {
        if (file.Tensors.Count == 0 || file.Tensors.Any(t => t.Name.Length > 0 && char.IsAsciiDigit(t.Name[0]))) return "";
        // "layers.0.weight" → "layers."; every tensor must share it and be followed by a child index.
        string first = file.Tensors[0].Name;
        int dot = first.IndexOf('.');
        if (dot <= 0) return "";
        string candidate = first[..(dot + 1)];
        foreach (var t in file.Tensors)
        {
            if (!t.Name.StartsWith(candidate, StringComparison.Ordinal) || t.Name.Length == candidate.Length || !char.IsAsciiDigit(t.Name[candidate.Length]))
                return "";
        }
        return candidate;
    }

    private static bool IsBatchCounter<T>(string name, NdArray<T> tensor) where T : unmanaged, IFloatingPointIeee754<T>
        => tensor.Length == 1 && (name == NumBatchesTrackedName || name.EndsWith("." + NumBatchesTrackedName, StringComparison.Ordinal));

    private static string Summary<T>(Sequential<T> model) where T : unmanaged, IFloatingPointIeee754<T>
        => string.Join(", ", model.Layers.Select((l, i) => $"{i}: {l.Name}"));
}
