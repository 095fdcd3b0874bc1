namespace NeuralNet.Distributed;

/// <summary>The element-wise combination an all-reduce applies across ranks.</summary>
public enum ReduceOperation
{
    /// <summary>The sum over ranks (<c>MPI_SUM</c>).</summary>
    Sum,

    /// <summary>The maximum over ranks (<c>MPI_MAX</c>).</summary>
    Max,

    /// <summary>The minimum over ranks (<c>MPI_MIN</c>).</summary>
    Min,
}
