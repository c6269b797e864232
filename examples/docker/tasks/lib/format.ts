// A helper of the example's tasks: a total with two decimals.
export const formatTotal = (total: number): string => total.toFixed(2);
