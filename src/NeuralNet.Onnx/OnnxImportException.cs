namespace NeuralNet.Onnx;

/// <summary>
/// An ONNX file cannot be imported: it is not a valid ONNX model, or it uses an operator, attribute, graph shape or
/// tensor layout NeuralNet does not support. The message names the file, the node, its operator and the reason.
/// </summary>
public sealed class OnnxImportException : FormatException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="source">The file (or other source) being imported.</param>
    /// <param name="nodeName">The offending node's name, or null when the problem is not a node's.</param>
    /// <param name="opType">The offending node's operator, or null.</param>
    /// <param name="reason">What is wrong.</param>
    /// <param name="inner">The underlying exception, if any.</param>
    public OnnxImportException(string source, string? nodeName, string? opType, string reason, Exception? inner = null)
        : base(Format(source, nodeName, opType, reason), inner)
    {
        ModelSource = source;
        NodeName = nodeName;
        OpType = opType;
        Reason = reason;
    }

    /// <summary>The file (or other source) being imported.</summary>
    public string ModelSource { get; }

    /// <summary>The offending node's name, or null when the problem is not a node's.</summary>
    public string? NodeName { get; }

    /// <summary>The offending node's operator, or null.</summary>
    public string? OpType { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }

    private static string Format(string source, string? nodeName, string? opType, string reason) =>
        nodeName is null && opType is null
            ? $"ONNX import of {source}: {reason}"
            : $"ONNX import of {source}: node '{nodeName}' ({opType}): {reason}";
}
