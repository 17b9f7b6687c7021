/** Users named in an error message: the first five, then how many more (a request names up to 99). */
export function userList(userIds: readonly string[]): string {
  const shown = userIds.slice(0, 5).join(', ');
  return userIds.length > 5 ? `${shown} and ${userIds.length - 5} more` : shown;
}
