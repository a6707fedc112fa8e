"""Agents' presence time: stretches online or paused, ended by a status change or by a console gone quiet.

An agent's status says what they chose (online, paused, offline); their console's heartbeat says whether
they are still there. A stretch starts when they go online or pause and ends at their next status change,
or when the heartbeats stop: then it ends one heartbeat lifetime after the last beat (a dead browser, a
closed laptop), not at the next status change hours later. When the beats come back with the status
unchanged, a new stretch starts. Each agent's record is one key (``status|since|seen|team``) changed by
one script, so a heartbeat, a status change and the sweeps of several instances never count a stretch
twice; each ended stretch is one `presence_online` / `presence_paused` service event keyed by its start.
"""

from __future__ import annotations

from collections.abc import Iterable

from reports.events import ServiceEvents

# A stretch is never counted longer than this (a clock jump, a record from before heartbeats were seen).
MAX_STRETCH_SECONDS = 12 * 3600

# KEYS: the agent's record. ARGV: now, grace (s), ttl (s), op (status / seen / sweep), new status, team.
# Returns {status, since, end, team} of a stretch the call ended, or false.
_PRESENCE_LUA = """
local now, grace, op = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[4]
local was, since, seen, team = '', '', '', ARGV[6]
local v = redis.call('GET', KEYS[1])
if v then
  local parts, i = {}, 1
  for part in string.gmatch(v .. '|', '([^|]*)|') do parts[i] = part; i = i + 1 end
  was, since, seen = parts[1] or '', parts[2] or '', parts[3] or ''
  if (parts[4] or '') ~= '' then team = parts[4] end
end
if seen == '' then seen = since end
local present = (was == 'online' or was == 'paused')
local open = present and since ~= ''
local lapsed = open and (now - tonumber(seen) > grace)
local ended = nil
local function put(status, from, last, who)
  redis.call('SET', KEYS[1], status .. '|' .. from .. '|' .. last .. '|' .. who, 'EX', ARGV[3])
end
if op == 'status' then
  if open then ended = math.min(now, tonumber(seen) + grace) end
  if ARGV[6] ~= '' then team = ARGV[6] end
  put(ARGV[5], ARGV[1], ARGV[1], team)
elseif op == 'seen' and present then
  if lapsed then ended = tonumber(seen) + grace end
  if lapsed or since == '' then put(was, ARGV[1], ARGV[1], team) else put(was, since, ARGV[1], team) end
elseif op == 'sweep' and lapsed then
  ended = tonumber(seen) + grace
  put(was, '', seen, team)
end
if ended then return {was, since, string.format('%.3f', ended), team} end
return false
"""


class PresenceTime:
    """Turn agents' status changes and console heartbeats into presence stretches (`core.ports.Presence`)."""

    def __init__(self, events: ServiceEvents, grace_seconds: float) -> None:
        """Record stretches through ``events``; a console quiet for ``grace_seconds`` has gone."""
        self.events = events
        self.grace_seconds = grace_seconds
        self._script = events.redis.register_script(_PRESENCE_LUA)

    async def changed(self, agent: str, status: str, team: str = "") -> None:
        """Note an agent's new status; the stretch before it (online or paused) is counted. Never raises."""
        await self._call(agent, "status", status, team)

    async def seen(self, agent: str) -> None:
        """Note a heartbeat from the agent's console. Never raises."""
        await self._call(agent, "seen")

    async def sweep(self, agents: Iterable[str]) -> None:
        """End the stretches of agents whose console went quiet (any instance may sweep). Never raises."""
        for agent in agents:
            await self._call(agent, "sweep")

    async def _call(self, agent: str, op: str, status: str = "", team: str = "") -> None:
        with self.events.never_raising(f"presence {op}"):
            now = self.events.clock()
            key = self.events.keys.presence(agent)
            args: list[str | float] = [
                repr(now),
                self.grace_seconds,
                self.events.retention_seconds,
                op,
                status,
                team,
            ]
            ended = await self._script(keys=[key], args=args)
            if not ended:
                return
            was, since, end, team_of = (str(x) for x in ended)
            seconds = min(max(0.0, float(end) - float(since)), MAX_STRETCH_SECONDS)
            if seconds > 0:
                await self.events.observe(
                    f"presence_{was}", "", key=f"{agent}:{since}", agent=agent, team=team_of, value=seconds
                )
