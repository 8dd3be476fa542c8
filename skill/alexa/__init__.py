"""The ask-sdk skill: builder, handlers, slots, and what handlers are given (SkillDeps)."""
